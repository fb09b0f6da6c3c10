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

pause-done = Paused: your posts from this server (/here and mirror mode) are kept and not relayed until you run /resume. { $waiting ->
    [0] Nothing was queued.
    [one] 1 queued copy waits too.
   *[other] { $waiting } queued copies wait too.
}
pause-already = You are paused already; /resume relays what waits.
resume-done = Resumed: { $released ->
    [0] nothing was waiting.
    [one] 1 waiting copy is on its way.
   *[other] { $released } waiting copies are on their way, in the order you posted them.
}
resume-not-paused = You are not paused: your posts are relayed as usual.
pause-sharelist = ⏸ Paused here since <t:{ $since }:f>: your posts wait until you /resume.
pause-here-queued = Paused: your relay to { $count } destination(s) is queued and leaves when you /resume.
pause-queue-state = paused (leaves when you /resume)

## Leaving (/forget-me)

## Threads and forum posts as times

## Blocks (/block, /unblock)

block-needs-member = Name the member to block (member:); /block alone lists the blocks.
block-unknown-server = There is no registered server named “{ $server }”; /serverlist shows them.
block-done-everywhere = Blocked: relays from { $member } are no longer shown here, from any server.
block-done-via = Blocked: relays from { $member } through **{ $server }** are no longer shown here.
block-exists = { $member } was blocked like that already.
block-purged = { $count ->
    [0] No earlier copies of theirs were found here.
    [one] 1 earlier copy of theirs is being removed.
   *[other] { $count } earlier copies of theirs are being removed.
}
block-list-empty = Nobody is blocked here.
block-list-title = Blocked here ({ $count }):
block-list-everywhere = { $member }, from every server, since <t:{ $since }:d>
block-list-via = { $member }, through **{ $server }**, since <t:{ $since }:d>
unblock-done = Unblocked: relays from { $member } are shown here again.
unblock-none = { $member } was not blocked like that; /block lists the blocks.
