# kakusan's sentences in Japanese: short and polite, as Discord's own Japanese UI speaks; not
# word for word. Every message here exists in en.ftl with the same placeholders (the i18n
# tests check it). Numbers, times (<t:…>) and server names stay as they are.

## Errors shared by every command

storage-unavailable = データベースに接続できません。何も失われていません。少し待ってからもう一度お試しください。
internal-error = kakusan 側で問題が発生しました。詳細は運用者がログで確認できます。
not-set-up = このサーバーではまだ kakusan が設定されていません。「サーバー管理」権限を持つ人が /setup を実行してください。
needs-manage-server = ここで /{ $command } を実行するには「サーバー管理」権限が必要です。
no-send-permission = このチャンネルでメッセージを送信する権限がないため、kakusan が代わりに投稿することはできません。
no-attach-permission = このチャンネルでファイルを添付する権限がないため、kakusan がファイルを投稿することはできません。
command-unreadable = このコマンドを読み取れませんでした（{ $error }）。Discord に古いコマンドが表示されている可能性があります。
button-unknown = このボタンはもう使えません。
no-such-peer = `{ $name }` という連携サーバーはありません。
reason-webhook-deleted = ウェブフックが削除されました
reason-token-refused = ウェブフックのトークンが拒否されました (401)
reason-access-refused = Discord にアクセスを拒否されました (403): { $detail }
reason-discord-answered = Discord がエラーを返しました ({ $status }): { $detail }
reason-message-refused = Discord がメッセージを受け付けませんでした ({ $status }): { $detail }
reason-cannot-send = メッセージを送信できません: { $detail }
reason-unreadable-answer = Discord の応答を読み取れません: { $detail }
reason-payload-unreadable = 送信内容を読み取れません: { $detail }
reason-copy-deleted = 配信先でコピーが削除されました
reason-destination-broken = 配信先が利用できません: { $detail }
reason-stopped = あなたがこの配信先を停止しました
reason-thread-deleted = スレッドまたはフォーラム投稿が削除されました
reason-thread-locked = スレッドまたはフォーラム投稿がアーカイブされロックされています。そのサーバーのモデレーターに再開してもらってください
reason-peer-refused = 相手のウェブフックに拒否されました ({ $status })
reason-failed = 失敗しました

## Server administration (/setup, /card, /regserver, /unregserver, /serverlist, approval requests)

setup-bad-name = `{ $name }` はサーバー名に使えません。a-z、0-9、「-」で 2〜32 文字にしてください。
setup-no-webhook = <#{ $channel }> にウェブフックを作成できません。そのチャンネルで「チャンネルを見る」と「ウェブフックの管理」の権限を与えてから、もう一度 /setup を実行してください。
setup-name-taken = `{ $name }` という名前は、このデプロイの別のサーバーが使っています。別の名前にしてください。
setup-done = このサーバーはフェデレーションで **{ $name }** になりました。bot-com チャンネルは <#{ $channel }> です。
setup-peers-told = 変更を { $count } 件の連携サーバーに知らせました。
setup-keys-rotated = 鍵を新しくしました（新しい鍵: { $key }）。古い鍵で署名した新しいカードを { $count } 件の連携サーバーに送りました。
setup-give-card = 連携したいサーバーの管理者にこのカードを渡してください（相手があなたの bot-com チャンネルに投稿できるようになるため、取り扱いに注意してください）:
card-show = **{ $name }** のカード:
regserver-not-a-card = kakusan のカードではありません（{ $error }）。相手サーバーの管理者に /card の出力をもらってください。
regserver-own-card = これはこのサーバー自身のカードです。
regserver-duplicate = `{ $name }` という名前、またはギルド { $guild } の連携サーバーはすでに登録されています。置き換えるには先に /unregserver を実行してください。
regserver-mutual = **{ $name }** を登録しました。相手もこのサーバーを登録済みのため、相互連携になりました。メンバーの times の共有を始めます。
regserver-hello = **{ $name }** を登録し、あいさつを送りました。相手の管理者がこのサーバーを登録するか「承認」を押すと、相互連携になります。
unregserver-told = **{ $name }** と、そこから受け取った情報をすべて削除しました。相手にも通知しました。
unregserver-untold = **{ $name }** と、そこから受け取った情報をすべて削除しましたが、相手に通知できませんでした（ウェブフックが応答しません）。相手の管理者にもこのサーバーを /unregserver してもらうとよいでしょう。
unregserver-webhooks = 相手はこのサーバーのウェブフックを持っていました。times のウェブフック { $count } 件を作り直し{ $master ->
    [replaced] 、マスターウェブフックも作り直しました（他の連携サーバーには新しいカードが届きます）。
    [kept] ました。マスターウェブフックはそのままです (keep_master)。
   *[none] ました。
}
unregserver-retry = { $count } 件は今は作り直せませんでした。kakusan の次回起動時にもう一度試します。
serverlist-empty = 連携サーバーはまだありません。管理者が /regserver と相手のカードで登録できます。
serverlist-header = 連携サーバー（{ $count }）:
serverlist-peer = • **{ $name }**: { $state }、{ $seen }、{ $ping }
serverlist-unreachable = <t:{ $since }:R>から連絡できません（{ $reason }）。/ping で再試行できます
serverlist-mutual = 相互連携
serverlist-waiting = 相手の登録待ち
serverlist-seen = 最終確認 <t:{ $at }:R>
serverlist-never-seen = 未確認
serverlist-pinged = 最終 ping { $rtt } ms <t:{ $at }:R>
serverlist-never-pinged = ping 未実施
serverlist-request = • **{ $name }**（ギルド { $guild }、鍵 { $key }）: 承認を待っています（bot-com チャンネルの「承認」ボタン）
key-unreadable = 読み取れません
accept-not-admin = 連携サーバーを承認できるのは「サーバー管理」権限を持つ人だけです。
accept-not-pending = このリクエストはもう保留中ではありません。承認済みか、別の方法で登録されています。
accept-name-taken = このサーバーの別の連携サーバーが同じ名前を使っているため、承認しませんでした。
accept-done = <@{ $user }> が **{ $name }** を承認しました。相互連携になりました。
button-accept = 承認
approval-request = **{ $name }**（ギルド { $guild }、鍵 { $key }）がこのサーバーを登録し、承認を求めています。「サーバー管理」権限を持つ人は「承認」を押すか、相手のカードで /regserver を実行してください。

## Times (/regtimes, /unregtimes, /sharelist)

regtimes-mirror-unavailable = ミラーモードには Message Content インテントが必要ですが、このデプロイでは有効になっていません。運用者に KAKUSAN_MIRROR=true の設定を頼むか、ミラーなしで登録して /here を使ってください。
regtimes-botcom = bot-com チャンネルは times にできません。自分の times チャンネルで /regtimes を実行してください。
regtimes-elsewhere = このサーバーにはすでにあなたの times チャンネル <#{ $channel }> があります。先にそこで /unregtimes を実行してください。
regtimes-no-webhook = このチャンネルにウェブフックを作成できません。ここで「チャンネルを見る」と「ウェブフックの管理」の権限を与えてから、もう一度 /regtimes を実行してください。
regtimes-duplicate = このサーバーにはすでにあなたの times チャンネルがあります。先にそこで /unregtimes を実行してください。
regtimes-channel-taken = このチャンネルはすでに他の人の times です。
regtimes-done = このチャンネルを **{ $server }** でのあなたの times にしました。相互連携サーバー { $count } 件に知らせました。
regtimes-mirror-on = ここでの通常の投稿も中継されます（ミラーモード）。編集と削除も反映されます。
regtimes-use-here = /here で投稿すると、他のサーバーの times にも届きます。
regtimes-updated = ここの times を更新しました。ミラーモードは{ $now ->
    [on] オン
   *[off] オフ
}になりました（以前は{ $was ->
    [on] オン
   *[off] オフ
}）。ウェブフックと配信先はそのままです。
regtimes-mirror-from-now = これからは、ここでの通常の投稿も中継されます。編集と削除も反映されます。
regtimes-unchanged = このチャンネルはすでにあなたの times です（ミラーモード: { $mirror ->
    [on] オン
   *[off] オフ
}）。変更はありません。
unregtimes-not-yours = このチャンネルはあなたの times ではありません。登録したチャンネルで /unregtimes を実行してください（/sharelist で確認できます）。
unregtimes-done = このチャンネルは times ではなくなりました。連携サーバー { $count } 件に、ここへの送信をやめるよう伝えました。
sharelist-here = このサーバー: <#{ $channel }>{ $mirror ->
    [on] （ミラー）
   *[off] {""}
}、{ $state }
sharelist-no-times = このサーバー: times チャンネルはありません（自分のチャンネルで /regtimes を実行してください）。
sharelist-nowhere = 他のサーバーの配信先はまだありません。連携サーバーでも /regtimes で times を登録してください。
sharelist-destination = **{ $server }**: { $member } さんの times、{ $state }{ $stopped ->
    [yes] 、停止中
   *[no] {""}
}
state-ok = 正常
state-broken = 利用不可: { $reason }
button-stop = { $server } を停止
button-start = { $server } を再開
destination-not-yours = その配信先はあなたのものではないか、すでにありません。/sharelist を確認してください。
destination-stopped = 停止しました。再開するまで、あなたの投稿は **{ $server }** に届きません（/sharelist）。
destination-started = 再開しました。あなたの投稿はまた **{ $server }** に届きます。
notice-new-destination = <@{ $member }> さん: ここでの投稿は **{ $server }**（あちらのあなたの times）にも届くようになりました。/sharelist で確認・停止できます。

## Relays (/here, /queue, mirror mode)

here-too-long = メッセージは 2,000 文字までです（現在 { $length } 文字）。短くしてもう一度お試しください。
here-empty = メッセージが空のため、中継するものがありません。
here-all-stopped = すべての配信先（{ $names }）を停止しているため、何も中継しませんでした。/sharelist で再開できます。
here-nowhere = 連携サーバーにあなたの times がまだないため、中継先がありません。ここと連携サーバーの times チャンネルで /regtimes を実行してください。
here-all-broken = すべての配信先が利用できないため、何も中継しませんでした: { $names }。/sharelist を確認してください。
here-skipped-broken = 利用できない配信先には送っていません: { $names }（/sharelist を確認してください）。
here-scheduled = <t:{ $at }:f> に { $count } 件の配信先へ送るよう予約しました: { $names }。/queue で確認・取り消しできます。
here-queued-no-report = { $count } 件の配信先への送信を受け付けました。必ず届けます（データベースに接続できないため、今は配信結果を表示できません。あとで /queue で確認できます）。
here-delivered = { $count } 件中 { $delivered } 件の配信先に届けました。
here-failed = 失敗: { $list }。
here-waiting = 配信中: { $names }（/queue で確認できます）。
here-not-shown = このチャンネルには表示できませんでした: { $error }。
schedule-empty = 時刻が指定されていません。30m、2h、1d、または 2026-11-23T09:00:00+09:00 のような RFC 3339 形式で指定してください
schedule-unreadable = `{ $text }` を時刻として読み取れません。30m、2h、1d、または 2026-11-23T09:00:00+09:00 のような RFC 3339 形式で指定してください
schedule-past = その時刻は過去です: { $at } は現在（{ $now }）より後ではありません
schedule-too-far = その時刻は先すぎます: { $at } は { $days } 日より先です（予約できるのは { $days } 日後までです）
schedule-overflow = その時刻は先すぎます: `{ $text }` は日付として扱えません（予約できるのは { $days } 日後までです）
queue-all-not-admin = 全員のキュー (all:true) を見るには「サーバー管理」権限が必要です。/queue だけなら自分のキューを確認できます。
queue-empty-all = このサーバーから中継を待っているものはありません。
queue-empty-mine = 中継を待っているあなたの投稿はありません。
queue-header = 送信待ちの中継（{ $count }）:
queue-origin = このサーバーのチャンネル
queue-scheduled = <t:{ $at }:f> に予約済み
queue-retrying = 再試行中。直近のエラー: { $error }
queue-on-its-way = 送信中
queue-by = <@{ $member }> さん
button-cancel = 取り消す
cancel-nothing = 取り消せるものはありません。その中継は配信済みか、すでに取り消されています。
cancel-done = 取り消しました。{ $count } 件のコピーは送信されません。
cancel-partly = { $removed } 件のコピーを取り消しました。{ $running } 件はすでに送信中のため届きます。

## Pings (/ping, /pingall)

ping-cooldown = ping は { $seconds } 秒に 1 回までです。{ $wait } 秒後にもう一度 /{ $command } を実行してください。
pingall-no-peers = ping を送る連携サーバーがありません。
ping-failed = **{ $name }**: ping を送れませんでした
ping-line = **{ $name }**: { $pong }、{ $times }
ping-pong = { $rtt } ms で応答あり
ping-no-pong = { $seconds } 秒以内に応答なし
ping-unreachable = 連絡できません: { $reason }。ping が届くまで何も送りません
ping-not-sent = ping を送れませんでした（相手のウェブフックが応答しません）
ping-no-times = あなたの times はありません
ping-times-ok = あなたの times: 正常
ping-times-broken = あなたの times: 利用不可（ウェブフックが削除されています）
ping-times-unchecked = あなたの times: 確認できませんでした

## Bot-com lines

botcom-accepted = <@{ $user }> が **{ $name }** を連携サーバーとして承認しました。
botcom-envelope-rejected = 受け取ったメッセージを拒否しました（{ $label ->
    [malformed] 形式が正しくありません
    [too_large] 大きすぎます
    [bad_signature] 署名が正しくありません
    [stale] 時刻がずれています
    [replayed] 再送されたものです
    [unknown_src] 登録されていない送信元です
    [wrong_dst] 宛先が違います
    [ttl_expired] TTL が切れています
    [own_message] 自分が送ったものです
    [bad_card] カードが正しくありません
    [key_mismatch] 鍵が登録済みのものと違います
    [bad_webhook] ウェブフックが使えません
    [foreign_webhook] 相手のギルドのウェブフックではありません
    [bad_sync] 同期を組み立てられません
    [name_taken] 名前が他の連携サーバーと重複しています
    [not_mutual] 相互連携ではありません
   *[other] 確認できませんでした
}）: { $reason }
botcom-bye = { $name } が連携を解除しました。共有されていた情報は削除しました。
botcom-rotated = { $name } が鍵を新しくしました（新しい鍵: { $key }）。
botcom-mutual = { $name } と相互連携になりました。こちらの times を送りました。

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

thread-times-registered = スレッドのため、{ $parent } のウェブフックから投稿されます。アーカイブされても、ロックされていなければ次の投稿で再開されます。
thread-webhooks-full = このスレッドの親チャンネル { $parent } には、Discord の上限である 15 個のウェブフックがすでにあるため、タイムズ用のウェブフックを作成できません。不要なウェブフックを管理者に削除してもらってください。
thread-webhook-refused = このスレッド用のウェブフックを作成できません。親チャンネル { $parent } で「チャンネルを見る」と「ウェブフックの管理」の権限を付与してから、もう一度 /regtimes を実行してください。

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
