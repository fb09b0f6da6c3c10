-- The whole data model of SPEC §5. Discord snowflakes are BIGINT (they stay below 2^63).
-- Constraint names are part of the storage crate's contract: it maps them to domain errors.

-- A guild that ran /setup. One deployment may hold several.
CREATE TABLE servers (
    guild_id             BIGINT PRIMARY KEY,
    name                 TEXT NOT NULL,
    botcom_channel_id    BIGINT NOT NULL,
    master_webhook_id    BIGINT NOT NULL,
    master_webhook_token TEXT NOT NULL,
    -- Ed25519 signing seed and X25519 sealing secret, 32 bytes each.
    signing_key          BYTEA NOT NULL,
    sealing_key          BYTEA NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT servers_name_key UNIQUE (name),
    CONSTRAINT servers_name_format CHECK (name ~ '^[a-z0-9-]{2,32}$'),
    CONSTRAINT servers_keys_length CHECK (length(signing_key) = 32 AND length(sealing_key) = 32)
);

-- Another server known to one of ours: registered by our admin, or announced by its hello,
-- or both (then mutual).
CREATE TABLE peers (
    id                BIGSERIAL PRIMARY KEY,
    server_guild_id   BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    guild_id          BIGINT NOT NULL,
    webhook_url       TEXT NOT NULL,
    verify_key        BYTEA NOT NULL,
    sealing_key       BYTEA NOT NULL,
    -- Set when an admin of our server registered the peer (/regserver or the Accept button).
    registered_by     BIGINT,
    registered_at     TIMESTAMPTZ,
    -- Set when the peer's peer.hello arrived: the peer registered us.
    hello_received_at TIMESTAMPTZ,
    mutual            BOOLEAN NOT NULL
        GENERATED ALWAYS AS (registered_at IS NOT NULL AND hello_received_at IS NOT NULL) STORED,
    last_seen_at      TIMESTAMPTZ,
    last_ping_at      TIMESTAMPTZ,
    last_ping_rtt_ms  INTEGER,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT peers_server_name_key UNIQUE (server_guild_id, name),
    CONSTRAINT peers_server_guild_key UNIQUE (server_guild_id, guild_id),
    CONSTRAINT peers_name_format CHECK (name ~ '^[a-z0-9-]{2,32}$'),
    CONSTRAINT peers_keys_length CHECK (length(verify_key) = 32 AND length(sealing_key) = 32),
    CONSTRAINT peers_registration_complete CHECK ((registered_by IS NULL) = (registered_at IS NULL))
);

-- A member's times channel in one of our servers.
CREATE TABLE times (
    id              BIGSERIAL PRIMARY KEY,
    server_guild_id BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    member_id       BIGINT NOT NULL,
    member_name     TEXT NOT NULL,
    channel_id      BIGINT NOT NULL,
    webhook_id      BIGINT NOT NULL,
    webhook_token   TEXT NOT NULL,
    mirror          BOOLEAN NOT NULL DEFAULT false,
    -- NULL while the times works; the reason once its webhook is gone or refused.
    broken_reason   TEXT,
    broken_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT times_server_member_key UNIQUE (server_guild_id, member_id),
    CONSTRAINT times_channel_key UNIQUE (channel_id),
    CONSTRAINT times_broken_complete CHECK ((broken_reason IS NULL) = (broken_at IS NULL))
);

-- A member's times in a peer server, learned from that peer's signed announcement.
CREATE TABLE destinations (
    id            BIGSERIAL PRIMARY KEY,
    peer_id       BIGINT NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    member_id     BIGINT NOT NULL,
    member_name   TEXT NOT NULL,
    channel_id    BIGINT NOT NULL,
    webhook_id    BIGINT NOT NULL,
    webhook_token TEXT NOT NULL,
    -- The times.sync that last confirmed this row; rows a finished sync did not confirm go.
    sync_id       TEXT,
    broken_reason TEXT,
    broken_at     TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT destinations_peer_member_key UNIQUE (peer_id, member_id),
    CONSTRAINT destinations_broken_complete CHECK ((broken_reason IS NULL) = (broken_at IS NULL))
);
CREATE INDEX destinations_member_idx ON destinations (member_id);

-- One webhook call to make. Jobs of one lane (one webhook) run one at a time in
-- (scheduled_for, id) order; a job waiting for a retry keeps its place.
CREATE TABLE outbox_jobs (
    id                BIGSERIAL PRIMARY KEY,
    server_guild_id   BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    lane              BIGINT NOT NULL,
    destination_id    BIGINT REFERENCES destinations (id) ON DELETE CASCADE,
    peer_id           BIGINT REFERENCES peers (id) ON DELETE CASCADE,
    operation         TEXT NOT NULL,
    -- The member's message this job copies, edits or deletes; NULL for envelopes.
    source_message_id BIGINT,
    -- Jobs enqueued by one /here or one mirrored message share a relay id.
    relay_id          UUID,
    member_id         BIGINT,
    payload           JSONB NOT NULL,
    scheduled_for     TIMESTAMPTZ NOT NULL DEFAULT now(),
    retry_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    -- A claimed job is leased; a worker that dies lets its lease run out and another takes over.
    leased_until      TIMESTAMPTZ,
    leased_by         TEXT,
    -- Set when the job failed for good (the destination is broken); it then stays for the member to see.
    failed_at         TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT outbox_jobs_operation CHECK (operation IN ('send', 'edit', 'delete', 'envelope')),
    CONSTRAINT outbox_jobs_target CHECK ((destination_id IS NULL) <> (peer_id IS NULL)),
    CONSTRAINT outbox_jobs_source CHECK (operation = 'envelope' OR source_message_id IS NOT NULL)
);
CREATE INDEX outbox_jobs_lane_order_idx ON outbox_jobs (lane, scheduled_for, id) WHERE failed_at IS NULL;
CREATE INDEX outbox_jobs_ready_idx ON outbox_jobs (scheduled_for, retry_at) WHERE failed_at IS NULL;
CREATE INDEX outbox_jobs_member_idx ON outbox_jobs (server_guild_id, member_id);

-- Workers LISTEN on this channel; every new job wakes them when its transaction commits.
CREATE FUNCTION outbox_jobs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('kakusan_outbox', NEW.lane::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER outbox_jobs_notify AFTER INSERT ON outbox_jobs
    FOR EACH ROW EXECUTE FUNCTION outbox_jobs_notify();

-- Where each delivered copy of a member's message lives, so edits and deletes reach it.
CREATE TABLE copies (
    destination_id    BIGINT NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    source_message_id BIGINT NOT NULL,
    copy_message_id   BIGINT NOT NULL,
    delivered_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (destination_id, source_message_id)
);

-- Envelope ids already accepted, per receiving server, for replay protection.
CREATE TABLE seen_envelopes (
    server_guild_id BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    envelope_id     TEXT NOT NULL,
    seen_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (server_guild_id, envelope_id)
);
CREATE INDEX seen_envelopes_seen_at_idx ON seen_envelopes (seen_at);

-- How often each command ran in each guild (also in guilds that never ran /setup).
CREATE TABLE command_usage (
    guild_id     BIGINT NOT NULL,
    command      TEXT NOT NULL,
    uses         BIGINT NOT NULL DEFAULT 0,
    last_used_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (guild_id, command)
);
