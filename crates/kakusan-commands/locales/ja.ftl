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

forget-confirm = kakusan があなたについて保存しているものをすべて消去します。対象は、このサーバーのタイムズ（webhook のみ。投稿は残ります）、転送先、送信待ちの転送、このサーバーから転送した投稿のコピーです。相互ピアにも同じ消去を依頼します。この操作は取り消せません。
forget-button = すべて消去する
forget-not-yours = このボタンは /forget-me を実行したメンバーだけが押せます。
forget-done-here = このサーバーのデータを消去しました。投稿のコピー { $copies } 件を削除しています。
forget-no-peers = 依頼する相互ピアはありません。
forget-peer-confirmed = **{ $server }**：消去を確認しました（コピー { $copies } 件を削除）。
forget-peer-waiting = **{ $server }**：まだ確認がありません。確認されるまで /sharelist に表示されます。
forget-own-posts-stay = あなたのタイムズチャンネルの投稿はそのまま残ります。
forget-sharelist-waiting = /forget-me：{ $servers } からの確認を待っています。
forget-peer-notice = { $member } さん、**{ $server }** で kakusan から退会しました。そちらに転送された投稿のコピーを削除しています。このサーバーのタイムズは、ここでも /forget-me を実行するまで残ります。

## Threads and forum posts as times

## Blocks (/block, /unblock)
