-- How far each server has read its bot-com channel: the id of the newest message handled
-- there. After a restart kakusan reads the envelopes that arrived while it was away from here
-- on; NULL means "from the master webhook's creation" (no message in the channel can be
-- older than the webhook that posts it).
ALTER TABLE servers ADD COLUMN envelopes_read_until BIGINT;
