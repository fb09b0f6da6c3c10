-- Times in threads and forum posts (issue 15, part 4). Discord gives a thread no webhooks of its
-- own: the webhook lives in the thread's parent channel, and every call through it (execute,
-- edit, delete a message) names the thread with `thread_id`.

-- Our members' times: `channel_id` stays the times itself (the thread, whose id message events
-- carry as their channel); this is the channel the thread belongs to, which holds its webhook.
-- NULL for a times that is a channel of its own.
ALTER TABLE times ADD COLUMN parent_channel_id BIGINT;

-- A peer's times: `channel_id` is the channel holding the webhook (as announced), this the
-- thread or forum post inside it that every call through the webhook is aimed at.
ALTER TABLE destinations ADD COLUMN thread_id BIGINT;
