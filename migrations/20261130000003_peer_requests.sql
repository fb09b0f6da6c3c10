-- Approval requests: a hello from a server our admins have not registered. Each is bound to
-- the exact card it showed (its verify key): a different card for the same guild is another
-- request and never changes a pending one, and Accept registers exactly that card. A server
-- that has only said hello is no peer: it can send nothing but hellos.
CREATE TABLE peer_requests (
    id              BIGSERIAL PRIMARY KEY,
    server_guild_id BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    guild_id        BIGINT NOT NULL,
    webhook_url     TEXT NOT NULL,
    verify_key      BYTEA NOT NULL,
    sealing_key     BYTEA NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_hello_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT peer_requests_card_key UNIQUE (server_guild_id, guild_id, verify_key),
    CONSTRAINT peer_requests_name_format CHECK (name ~ '^[a-z0-9-]{2,32}$'),
    CONSTRAINT peer_requests_keys_length CHECK (length(verify_key) = 32 AND length(sealing_key) = 32)
);

-- Servers that had only said hello become requests (their old Accept buttons no longer work;
-- the next hello, or /regserver with their card, carries on).
INSERT INTO peer_requests (server_guild_id, name, guild_id, webhook_url, verify_key, sealing_key,
                           created_at, last_hello_at)
SELECT server_guild_id, name, guild_id, webhook_url, verify_key, sealing_key, created_at,
       coalesce(hello_received_at, created_at)
FROM peers WHERE registered_at IS NULL;
DELETE FROM peers WHERE registered_at IS NULL;
