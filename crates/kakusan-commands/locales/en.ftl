# kakusan's sentences in English. Every message here exists in ja.ftl with the same
# placeholders (the i18n tests check it). Ids are lower-case words joined by '-'; placeholders
# are snake_case. Sections by area keep concurrent additions apart: add a message under its
# area's heading.

## Errors shared by every command

storage-unavailable = Storage unavailable, nothing was lost — try again shortly.
internal-error = Something went wrong on kakusan's side; the operator can find the details in its log.
not-set-up = This server is not set up for kakusan yet: someone with Manage Server must run /setup first.
needs-manage-server = You need the Manage Server permission to run /{ $command } here.
no-send-permission = You may not send messages in this channel, so kakusan will not post for you here.
no-attach-permission = You may not attach files in this channel, so kakusan will not post your file here.
command-unreadable = This command could not be read ({ $error }); Discord may still show an older version of it.
button-unknown = This button is not kakusan's any more.
no-such-peer = There is no peer named `{ $name }`.
# Reasons stored in English (a broken destination, a job's last error, an unreachable peer),
# shown in the member's language; $detail is Discord's own text.
reason-webhook-deleted = the webhook was deleted
reason-token-refused = the webhook's token was refused (401)
reason-access-refused = Discord refused access (403): { $detail }
reason-discord-answered = Discord answered { $status }: { $detail }
reason-message-refused = Discord refused the message ({ $status }): { $detail }
reason-cannot-send = the message cannot be sent: { $detail }
reason-unreadable-answer = unreadable answer from Discord: { $detail }
reason-payload-unreadable = the job's payload is unreadable: { $detail }
reason-copy-deleted = the copy was deleted at the destination
reason-destination-broken = the destination is broken: { $detail }
reason-stopped = you stopped this destination
reason-thread-deleted = the thread or forum post was deleted
reason-thread-locked = the thread or forum post is archived and locked; a moderator there must reopen it
reason-peer-refused = its webhook refused us ({ $status })
reason-failed = failed

## Server administration (/setup, /card, /regserver, /unregserver, /serverlist, approval requests)

setup-bad-name = `{ $name }` cannot be a server name: use 2 to 32 characters of a-z, 0-9 and '-'.
setup-no-webhook = I cannot create a webhook in <#{ $channel }>: give me View Channel and Manage Webhooks there, then run /setup again.
setup-name-taken = The name `{ $name }` is already used by another server of this deployment; choose another.
setup-done = This server is **{ $name }** in the federation, with <#{ $channel }> as its bot-com channel.
setup-peers-told = { $count ->
    [one] { $count } peer was told about the change.
   *[other] { $count } peers were told about the change.
}
setup-keys-rotated = Its keys were rotated (new key { $key }); { $count ->
    [one] { $count } peer was
   *[other] { $count } peers were
} sent the new card, signed with the old key.
setup-give-card = Give this card to the admins of the servers you want to peer with (it is a secret of sorts: it lets them post to your bot-com channel):
card-show = The card of **{ $name }**:
regserver-not-a-card = That is not a kakusan card ({ $error }); ask the other server's admins for the output of their /card.
regserver-own-card = That is this server's own card.
regserver-duplicate = A peer named `{ $name }` or in guild { $guild } is already registered; /unregserver it first to replace it.
regserver-mutual = Registered **{ $name }**. It had registered this server already, so you are mutual peers now and your members' times are being shared.
regserver-hello = Registered **{ $name }** and sent it a hello. You become mutual peers once its admins register this server or press Accept.
unregserver-told = Removed **{ $name }** and everything learned from it; it was told goodbye.
unregserver-untold = Removed **{ $name }** and everything learned from it, but it could not be told (its webhook did not answer); its admins may want to /unregserver this server too.
unregserver-webhooks = It held this server's webhooks: { $count ->
    [one] { $count } times webhook was replaced
   *[other] { $count } times webhooks were replaced
}{ $master ->
    [replaced] , and the master webhook (the other peers get the new card).
    [kept] ; the master webhook was kept (keep_master).
   *[none] .
}
unregserver-retry = { $count } could not be replaced now; kakusan tries again at its next start.
serverlist-empty = This server has no peers yet. An admin registers one with /regserver and its card.
serverlist-header = Peers ({ $count }):
serverlist-peer = • **{ $name }**: { $state }; { $seen }; { $ping }
serverlist-unreachable = unreachable ({ $reason }) since <t:{ $since }:R>; /ping retries
serverlist-mutual = mutual
serverlist-waiting = waiting for them to register this server
serverlist-seen = last seen <t:{ $at }:R>
serverlist-never-seen = never seen
serverlist-pinged = last ping { $rtt } ms <t:{ $at }:R>
serverlist-never-pinged = never pinged
serverlist-request = • **{ $name }** (guild { $guild }, key { $key }): asks to be accepted (Accept button in the bot-com channel)
key-unreadable = unreadable
accept-not-admin = Only someone with the Manage Server permission can accept a peer.
accept-not-pending = That request is no longer pending: it was accepted, or its guild was registered another way.
accept-name-taken = Another peer of this server already has that name; it was not accepted.
accept-done = **{ $name }** was accepted by <@{ $user }>; you are mutual peers now.
button-accept = Accept
approval-request = **{ $name }** (guild { $guild }, key { $key }) registered this server and asks to be accepted. Someone with Manage Server can press Accept, or run /regserver with its card.

## Times (/regtimes, /unregtimes, /sharelist)

regtimes-mirror-unavailable = Mirror mode needs the Message Content intent, which this deployment does not request; ask its operator to set KAKUSAN_MIRROR=true, or register without mirror and use /here.
regtimes-botcom = The bot-com channel cannot be a times channel; run /regtimes in your own times channel.
regtimes-elsewhere = You already have a times channel in this server: <#{ $channel }>. Run /unregtimes there first.
regtimes-no-webhook = I cannot create a webhook in this channel: give me View Channel and Manage Webhooks here, then run /regtimes again.
regtimes-duplicate = You already have a times channel in this server; run /unregtimes there first.
regtimes-channel-taken = This channel is already someone's times channel.
regtimes-done = This channel is your times in **{ $server }**; it was announced to { $count ->
    [one] { $count } mutual peer.
   *[other] { $count } mutual peers.
}
regtimes-mirror-on = Your plain messages here are relayed too (mirror mode); edits and deletes follow.
regtimes-use-here = Post with /here to reach your other times channels.
regtimes-updated = Updated your times here: mirror mode is now { $now ->
    [on] on
   *[off] off
} (it was { $was ->
    [on] on
   *[off] off
}). Its webhook and your destinations stay as they are.
regtimes-mirror-from-now = Your plain messages here are relayed from now on; edits and deletes follow.
regtimes-unchanged = This channel already is your times here, with mirror mode { $mirror ->
    [on] on
   *[off] off
}; nothing changed.
unregtimes-not-yours = This channel is not your times channel; run /unregtimes in the channel you registered (see /sharelist).
unregtimes-done = This channel is no longer your times; { $count ->
    [one] { $count } peer was
   *[other] { $count } peers were
} told to stop sending here.
sharelist-here = Here: <#{ $channel }>{ $mirror ->
    [on] {" "}(mirror)
   *[off] {""}
}, { $state }
sharelist-no-times = Here: no times channel (run /regtimes in yours).
sharelist-nowhere = Nowhere else yet: register your times with /regtimes in the peered servers too.
sharelist-destination = **{ $server }**: times of { $member }, { $state }{ $stopped ->
    [yes] , stopped by you
   *[no] {""}
}
state-ok = ok
state-broken = broken: { $reason }
button-stop = Stop { $server }
button-start = Start { $server }
destination-not-yours = That destination is not yours, or it is gone; see /sharelist.
destination-stopped = Stopped: your posts no longer go to **{ $server }** until you start it again (/sharelist).
destination-started = Started: your posts go to **{ $server }** again.
notice-new-destination = <@{ $member }>: your posts here now also go to **{ $server }** (your times there). /sharelist shows it and can stop it.

## Relays (/here, /queue, mirror mode)

here-too-long = A message can hold at most 2,000 characters; yours has { $length }. Shorten it and try again.
here-empty = There is nothing to relay: the message is empty.
here-all-stopped = You have stopped every one of your destinations ({ $names }), so nothing was relayed; start one in /sharelist.
here-nowhere = You have no times channel in any peered server yet, so there is nowhere to relay to. Run /regtimes in your times channels (here and in the peered servers).
here-all-broken = Every one of your destinations is broken, so nothing was relayed: { $names }. See /sharelist.
here-skipped-broken = Skipped, because they are broken: { $names } (see /sharelist).
here-scheduled = Scheduled for <t:{ $at }:f> to { $count ->
    [one] { $count } destination
   *[other] { $count } destinations
}: { $names }. /queue shows it and can cancel it.
here-queued-no-report = Queued for { $count ->
    [one] { $count } destination
   *[other] { $count } destinations
}; it will be delivered. (Storage is unavailable right now, so there is no delivery report; /queue shows it later.)
here-delivered = Delivered to { $delivered } of { $count ->
    [one] { $count } destination.
   *[other] { $count } destinations.
}
here-failed = Failed: { $list }.
here-waiting = Still on the way to: { $names } (see /queue).
here-not-shown = It could not be shown in this channel: { $error }.
schedule-empty = no time given: use 30m, 2h, 1d or an RFC 3339 time like 2026-11-23T09:00:00+09:00
schedule-unreadable = cannot read `{ $text }` as a time: use 30m, 2h, 1d or an RFC 3339 time like 2026-11-23T09:00:00+09:00
schedule-past = that time is in the past: { $at } is not after now ({ $now })
schedule-too-far = that time is too far ahead: { $at } is more than { $days } days from now, the longest a relay can wait
schedule-overflow = that time is too far ahead: `{ $text }` is beyond any date, and a relay can wait at most { $days } days
queue-all-not-admin = You need the Manage Server permission to see everyone's queue (all:true); /queue alone shows yours.
queue-empty-all = Nothing is waiting to be relayed from this server.
queue-empty-mine = Nothing of yours is waiting to be relayed.
queue-header = Pending relays ({ $count }):
queue-origin = its channel here
queue-scheduled = scheduled for <t:{ $at }:f>
queue-retrying = retrying; last error: { $error }
queue-on-its-way = on its way
queue-by = by <@{ $member }>
button-cancel = Cancel
cancel-nothing = Nothing left to cancel: that relay was delivered or cancelled already.
cancel-done = Cancelled: { $count ->
    [one] { $count } copy
   *[other] { $count } copies
} will not be sent.
cancel-partly = Cancelled { $removed ->
    [one] { $removed } copy
   *[other] { $removed } copies
}; { $running } were already being sent and will arrive.

## Pings (/ping, /pingall)

ping-cooldown = You can ping once every { $seconds } seconds; try /{ $command } again in { $wait } s.
pingall-no-peers = This server has no peers to ping.
ping-failed = **{ $name }**: could not be pinged
ping-line = **{ $name }**: { $pong }; { $times }
ping-pong = pong in { $rtt } ms
ping-no-pong = no pong within { $seconds } s
ping-unreachable = unreachable: { $reason }; nothing is sent to it until a ping gets through
ping-not-sent = the ping could not be sent (its webhook did not answer)
ping-no-times = you have no times there
ping-times-ok = your times there: ok
ping-times-broken = your times there: broken (its webhook was deleted)
ping-times-unchecked = your times there: could not be checked

## Bot-com lines

botcom-accepted = <@{ $user }> accepted **{ $name }** as a peer.
# $label is the metrics' reason (bad_signature, stale, …); $reason the check's own words.
botcom-envelope-rejected = Envelope check: { $label ->
   *[other] { $reason }
}.
botcom-bye = { $name } said goodbye; what it had shared is forgotten.
botcom-rotated = { $name } rotated its keys (new key { $key }).
botcom-mutual = { $name } is a mutual peer; our times were sent to it.

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
pause-here-queued = Paused: your relay to { $count ->
    [one] { $count } destination
   *[other] { $count } destinations
} is queued and leaves when you /resume.
pause-queue-state = paused (leaves when you /resume)

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

thread-times-registered = Since this is a thread, relays reach it through a webhook in { $parent }; if the thread is archived, the next relay reopens it (unless it is locked).
thread-webhooks-full = { $parent }, the channel this thread belongs to, already has the 15 webhooks Discord allows, so I cannot make one for your times here; ask an admin to delete unused webhooks there.
thread-webhook-refused = I cannot create a webhook for this thread: give me View Channel and Manage Webhooks in { $parent }, the channel it belongs to, then run /regtimes again.

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
