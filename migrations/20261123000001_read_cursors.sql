-- How far kakusan has read the channels whose messages it must not miss: the id of the newest
-- message handled there. After a restart it reads what arrived while it was away from here on.

-- Bot-com channels. NULL means "from the master webhook's creation": no message in the channel
-- can be older than the webhook that posts it.
ALTER TABLE servers ADD COLUMN envelopes_read_until BIGINT;

-- Mirrored times channels. Set to the times webhook's id (a snowflake of its creation) when a
-- times is registered; NULL only for times registered before this column existed, which are
-- read from their next relayed message on.
ALTER TABLE times ADD COLUMN read_until BIGINT;
