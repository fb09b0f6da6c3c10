# kakusan's sentences in Japanese: short and polite, as Discord's own Japanese UI speaks; not
# word for word. Every message here exists in en.ftl with the same placeholders (the i18n
# tests check it). Numbers, times (<t:…>) and server names stay as they are.

## Errors shared by every command

storage-unavailable = データベースに接続できません。何も失われていません。少し待ってからもう一度お試しください。
internal-error = kakusan 側で問題が発生しました。詳細は運用者がログで確認できます。

## Server administration (/setup, /card, /regserver, /unregserver, /serverlist, approval requests)

## Times (/regtimes, /unregtimes, /sharelist)

## Relays (/here, /queue, mirror mode)

## Pings (/ping, /pingall)

## Bot-com lines

## Pause and resume (/pause, /resume)

## Leaving (/forget-me)

## Threads and forum posts as times

thread-times-registered = スレッドのため、{ $parent } のウェブフックから投稿されます。アーカイブされても、ロックされていなければ次の投稿で再開されます。
thread-webhooks-full = このスレッドの親チャンネル { $parent } には、Discord の上限である 15 個のウェブフックがすでにあるため、タイムズ用のウェブフックを作成できません。不要なウェブフックを管理者に削除してもらってください。
thread-webhook-refused = このスレッド用のウェブフックを作成できません。親チャンネル { $parent } で「チャンネルを見る」と「ウェブフックの管理」の権限を付与してから、もう一度 /regtimes を実行してください。

## Blocks (/block, /unblock)
