-- A scaled-out deployment's catch-up gate. When a shard starts a new session (READY), the
-- worker holding the READY lane reads what was posted while no session was connected; message
-- events of the new session, handled by other workers, wait until it is done, as `kakusan
-- run`'s in-process gate makes them wait. The gateway writes a shard's row before it publishes
-- the READY; the worker removes it when the catch-up is done (or the READY is given up).
CREATE TABLE catch_up_gates (
    shard_id  INTEGER PRIMARY KEY,
    closed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
