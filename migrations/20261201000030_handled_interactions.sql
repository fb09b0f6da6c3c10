-- Interactions a scaled-out worker has taken on (issue 12). JetStream delivers an event at
-- least once; the id recorded here makes a redelivered interaction a no-op, so Discord never
-- sees a second answer. Rows older than a day are pruned: Discord's interaction tokens last
-- 15 minutes, and no redelivery comes later than that.
CREATE TABLE handled_interactions (
    interaction_id BIGINT PRIMARY KEY,
    handled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX handled_interactions_handled_at ON handled_interactions (handled_at);
