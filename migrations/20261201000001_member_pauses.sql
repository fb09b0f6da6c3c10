-- /pause and /resume: a member's relays from one of our servers wait until they resume. Pause
-- is per member per server (the guild they typed /pause in); their relays from our other
-- servers go on.
CREATE TABLE member_pauses (
    server_guild_id BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    member_id       BIGINT NOT NULL,
    paused_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (server_guild_id, member_id)
);

-- A paused member's jobs stay queued with this flag set, so a claim passes over them through
-- an index that leaves them out instead of looking each one up; /resume clears it and wakes
-- the workers. The flag is set on insert by the trigger below and on the member's queued jobs
-- by /pause, in the pause's transaction.
ALTER TABLE outbox_jobs ADD COLUMN paused BOOLEAN NOT NULL DEFAULT false;

CREATE INDEX outbox_jobs_unpaused_ready_idx ON outbox_jobs (scheduled_for, retry_at)
    WHERE failed_at IS NULL AND NOT paused;
CREATE INDEX outbox_jobs_paused_member_idx ON outbox_jobs (server_guild_id, member_id)
    WHERE paused;

-- A job queued for a paused member starts paused. FOR SHARE makes a job inserted while
-- /resume deletes the pause wait for it, and then start unpaused: otherwise /resume could miss
-- a job queued in that instant and leave it paused for good. (A job inserted while /pause is
-- being committed starts unpaused; the claim also checks the pause itself, so it waits too.)
CREATE FUNCTION outbox_jobs_pause() RETURNS trigger AS $$
BEGIN
    IF NEW.member_id IS NOT NULL THEN
        PERFORM 1 FROM member_pauses
        WHERE server_guild_id = NEW.server_guild_id AND member_id = NEW.member_id
        FOR SHARE;
        NEW.paused := FOUND;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER outbox_jobs_pause BEFORE INSERT ON outbox_jobs
    FOR EACH ROW EXECUTE FUNCTION outbox_jobs_pause();
