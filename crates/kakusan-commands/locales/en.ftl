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

forget-confirm = This erases everything kakusan holds about you: your times here (its webhook; your posts stay), where your posts go, your queued relays, and the copies of your posts that kakusan relayed from this server. Every mutual peer is asked to do the same. This cannot be undone.
forget-button = Forget me everywhere
forget-not-yours = Only the member who ran /forget-me can press this button.
forget-done-here = Forgotten here: { $copies ->
    [one] 1 copy of your posts is
   *[other] { $copies } copies of your posts are
} being deleted.
forget-no-peers = There was no mutual peer to ask.
forget-peer-confirmed = **{ $server }** confirmed: { $copies ->
    [one] 1 copy
   *[other] { $copies } copies
} deleted there.
forget-peer-waiting = **{ $server }** has not confirmed yet; /sharelist shows it until it does.
forget-own-posts-stay = Your own posts in your times channels stay.
forget-sharelist-waiting = /forget-me: not confirmed yet by { $servers }.
forget-peer-notice = { $member }: you left kakusan at **{ $server }**, and the copies of your posts there are being deleted. Your times here stays until you run /forget-me here too.

## Threads and forum posts as times

## Blocks (/block, /unblock)
