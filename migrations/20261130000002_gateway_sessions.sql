-- The gateway session of each shard, saved when kakusan stops so that the next process resumes
-- it and Discord replays what happened in between. A row lives from one shutdown to the next
-- start-up, which takes (deletes) every row of its application, so no session is resumed twice.
CREATE TABLE gateway_sessions (
    application_id BIGINT NOT NULL,
    shard_id       BIGINT NOT NULL,
    -- A session belongs to one shard of one shard count; another count starts new sessions.
    shard_total    BIGINT NOT NULL,
    session_id     TEXT NOT NULL,
    -- The sequence number of the last event the process handled; the replay starts after it.
    sequence       BIGINT NOT NULL,
    -- READY's resume_gateway_url; NULL when the shard had lost it (it then resumes where it
    -- would identify).
    resume_url     TEXT,
    saved_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, shard_id, shard_total),
    CONSTRAINT gateway_sessions_shard_range CHECK (shard_id >= 0 AND shard_id < shard_total),
    CONSTRAINT gateway_sessions_sequence_range CHECK (sequence >= 0)
);
