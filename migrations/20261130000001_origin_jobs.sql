-- A /here's copy in the channel where it was typed is an outbox job like every other copy,
-- written in the same transaction as the destinations' jobs (SPEC §4: nothing of a relay is
-- sent before that transaction commits). It goes through the member's times webhook when the
-- channel is their times here, else the bot posts it in the channel.

-- The member's times webhook in our own server.
ALTER TABLE outbox_jobs ADD COLUMN times_id BIGINT REFERENCES times (id) ON DELETE CASCADE;
-- A channel of our own server the bot posts in.
ALTER TABLE outbox_jobs ADD COLUMN channel_id BIGINT;

ALTER TABLE outbox_jobs DROP CONSTRAINT outbox_jobs_target;
ALTER TABLE outbox_jobs ADD CONSTRAINT outbox_jobs_target
    CHECK (num_nonnulls(destination_id, peer_id, times_id, channel_id) = 1);
