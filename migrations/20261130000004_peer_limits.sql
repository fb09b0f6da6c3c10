-- What a peer may make us do, and how often. A hello is answered with a sync at most once per
-- peer per 10 minutes; a peer whose master webhook refuses us (401/403/404) is unreachable
-- until a /ping gets through, and nothing else is sent to it meanwhile.
ALTER TABLE peers ADD COLUMN last_sync_sent_at TIMESTAMPTZ;
ALTER TABLE peers ADD COLUMN unreachable_reason TEXT;
ALTER TABLE peers ADD COLUMN unreachable_at TIMESTAMPTZ;
ALTER TABLE peers ADD CONSTRAINT peers_unreachable_complete
    CHECK ((unreachable_reason IS NULL) = (unreachable_at IS NULL));
