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

pause-done = 一時停止しました。このサーバーからの投稿（/here とミラーモード）は保存され、/resume するまで中継されません。{ $waiting ->
    [0] 待機中の中継はありません。
   *[other] 待機中の { $waiting } 件も保留されます。
}
pause-already = すでに一時停止中です。/resume で保留中の投稿を中継します。
resume-done = 再開しました。{ $released ->
    [0] 保留中の投稿はありませんでした。
   *[other] 保留中の { $released } 件を投稿順に中継します。
}
resume-not-paused = 一時停止していません。投稿は通常どおり中継されています。
pause-sharelist = ⏸ <t:{ $since }:f> からこのサーバーで一時停止中です。/resume するまで投稿は保留されます。
pause-here-queued = 一時停止中のため、{ $count } 件の中継先への投稿は保留されました。/resume すると送信されます。
pause-queue-state = 一時停止中（/resume で送信）

## Leaving (/forget-me)

## Threads and forum posts as times

## Blocks (/block, /unblock)

block-needs-member = ブロックするメンバーを member: で指定してください。/block だけで実行するとブロック一覧を表示します。
block-unknown-server = 「{ $server }」という登録済みサーバーはありません。/serverlist で確認できます。
block-done-everywhere = ブロックしました。{ $member } さんの中継は、どのサーバーからもここには表示されません。
block-done-via = ブロックしました。**{ $server }** 経由の { $member } さんの中継は、ここには表示されません。
block-exists = { $member } さんはすでに同じ条件でブロックされています。
block-purged = { $count ->
    [0] これまでの中継はここに見つかりませんでした。
   *[other] これまでの中継 { $count } 件を削除しています。
}
block-list-empty = このサーバーでブロックしているメンバーはいません。
block-list-title = ブロック中（{ $count } 件）:
block-list-everywhere = { $member }（すべてのサーバーから、<t:{ $since }:d> から）
block-list-via = { $member }（**{ $server }** 経由、<t:{ $since }:d> から）
unblock-done = ブロックを解除しました。{ $member } さんの中継は再びここに表示されます。
unblock-none = { $member } さんはその条件ではブロックされていません。/block で一覧を確認できます。
