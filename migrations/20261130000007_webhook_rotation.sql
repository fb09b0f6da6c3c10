-- Removing a peer rotates every webhook it was given (/unregserver): the times webhooks and,
-- unless the admin keeps it, the master webhook. The rotation is recorded first and finished
-- afterwards (again at the next start if the process died half-way); each old webhook is
-- deleted by an outbox job, so a deletion that fails is retried.
ALTER TABLE times ADD COLUMN rotation_pending BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE servers ADD COLUMN master_rotation_pending BOOLEAN NOT NULL DEFAULT false;

-- A webhook of ours to delete.
ALTER TABLE outbox_jobs ADD COLUMN webhook_id BIGINT;
ALTER TABLE outbox_jobs DROP CONSTRAINT outbox_jobs_target;
ALTER TABLE outbox_jobs ADD CONSTRAINT outbox_jobs_target
    CHECK (num_nonnulls(destination_id, peer_id, times_id, channel_id, webhook_id) = 1);
ALTER TABLE outbox_jobs DROP CONSTRAINT outbox_jobs_operation;
ALTER TABLE outbox_jobs ADD CONSTRAINT outbox_jobs_operation
    CHECK (operation IN ('send', 'edit', 'delete', 'envelope', 'delete_webhook'));
ALTER TABLE outbox_jobs DROP CONSTRAINT outbox_jobs_source;
ALTER TABLE outbox_jobs ADD CONSTRAINT outbox_jobs_source
    CHECK (operation IN ('envelope', 'delete_webhook') OR source_message_id IS NOT NULL);
