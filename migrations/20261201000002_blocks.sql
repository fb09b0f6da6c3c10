-- /block: an admin's decision that relays from a remote member (through any peer, or through
-- one peer) are no longer shown in this server. Peers post relays straight through the
-- member's times webhook here, so the block is enforced on arrival: the copy is removed through
-- that webhook (an outbox job), which the sending side cannot tell from a delivery.
CREATE TABLE blocks (
    id              BIGSERIAL PRIMARY KEY,
    server_guild_id BIGINT NOT NULL REFERENCES servers (guild_id) ON DELETE CASCADE,
    member_id       BIGINT NOT NULL,
    -- NULL: through every peer. A removed peer takes its blocks with it.
    peer_id         BIGINT REFERENCES peers (id) ON DELETE CASCADE,
    blocked_by      BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT blocks_member_peer_key UNIQUE NULLS NOT DISTINCT (server_guild_id, member_id, peer_id)
);
