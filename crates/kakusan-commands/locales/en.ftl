# kakusan's sentences in English. Every message here exists in ja.ftl with the same
# placeholders (the i18n tests check it). Ids are lower-case words joined by '-'; placeholders
# are snake_case. Sections by area keep concurrent additions apart: add a message under its
# area's heading.

## Errors shared by every command

storage-unavailable = Storage unavailable, nothing was lost — try again shortly.
internal-error = Something went wrong on kakusan's side; the operator can find the details in its log.

## Server administration (/setup, /card, /regserver, /unregserver, /serverlist, approval requests)

## Times (/regtimes, /unregtimes, /sharelist)

## Relays (/here, /queue, mirror mode)

## Pings (/ping, /pingall)

## Bot-com lines

## Pause and resume (/pause, /resume)

## Leaving (/forget-me)

## Threads and forum posts as times

thread-times-registered = Since this is a thread, relays reach it through a webhook in { $parent }; if the thread is archived, the next relay reopens it (unless it is locked).
thread-webhooks-full = { $parent }, the channel this thread belongs to, already has the 15 webhooks Discord allows, so I cannot make one for your times here; ask an admin to delete unused webhooks there.
thread-webhook-refused = I cannot create a webhook for this thread: give me View Channel and Manage Webhooks in { $parent }, the channel it belongs to, then run /regtimes again.

## Blocks (/block, /unblock)
