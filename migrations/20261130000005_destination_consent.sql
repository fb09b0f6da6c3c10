-- A member's say over where their posts go. Each destination is announced to the member once,
-- in their times channel here, when it starts receiving their posts; the member can stop it
-- (and start it again) from /sharelist, and a stopped destination gets nothing.
ALTER TABLE destinations ADD COLUMN notified_at TIMESTAMPTZ;
ALTER TABLE destinations ADD COLUMN stopped_at TIMESTAMPTZ;
