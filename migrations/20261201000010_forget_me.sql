-- /forget-me: a member leaves with everything kakusan holds about them.
--
-- A destination of a member who left is kept only while the deletions of the copies it holds
-- are queued: those outbox jobs call its webhook. It is marked forgotten (nothing is relayed to
-- it any more, /sharelist no longer shows it), and it goes by itself, with its copy map
-- entries, once it has no job left to run: the trigger below runs whenever one of its jobs
-- leaves the queue or fails for good, in the transaction that does so.
ALTER TABLE destinations ADD COLUMN forgotten_at TIMESTAMPTZ;

CREATE FUNCTION drop_finished_forgotten_destination() RETURNS trigger AS $$
BEGIN
    DELETE FROM destinations d
    WHERE d.id = OLD.destination_id AND d.forgotten_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM outbox_jobs j
                      WHERE j.destination_id = d.id AND j.failed_at IS NULL);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER outbox_jobs_forgotten_destination AFTER DELETE OR UPDATE OF failed_at ON outbox_jobs
    FOR EACH ROW WHEN (OLD.destination_id IS NOT NULL)
    EXECUTE FUNCTION drop_finished_forgotten_destination();

-- The mutual peers asked to forget a member (member.forget) that have not answered yet
-- (member.forgotten): /sharelist shows them to the member until they do. A row goes when its
-- answer arrives; asking again (another /forget-me) replaces the request id. The member's
-- times webhook here is deleted by a job scheduled a while later, since the peers delete their
-- copies through it; the last answer brings that job forward.
CREATE TABLE forget_requests (
    server_guild_id BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    peer_id         BIGINT NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    member_id       BIGINT NOT NULL,
    -- The request's id (32 hex digits), repeated by the answer.
    request         TEXT NOT NULL,
    -- The member's times webhook here, whose deletion waits for the answers; NULL when they
    -- had no times here.
    webhook_id      BIGINT,
    requested_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (peer_id, member_id)
);
CREATE INDEX forget_requests_member_idx ON forget_requests (server_guild_id, member_id);
