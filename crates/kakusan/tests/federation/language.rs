//! Replies in the member's language: a Japanese member and an English one in the same
//! federation each read kakusan in their own language, and a bot-com line follows its guild's.

use discord_sim::{CommandOptionValue, DiscordSim};
use kakusan_testkit::federation::{Deployment, Federation, post_through_webhook, string};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

/// The reply to `name` run by `user` in `channel` at `side`.
async fn say(
    sim: &DiscordSim,
    side: &Deployment,
    channel: u64,
    user: u64,
    name: &str,
    options: Vec<(&str, CommandOptionValue)>,
) -> String {
    side.invoke(sim, channel, user, name, options).await.content
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_reads_kakusan_in_their_own_language() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    let hanako = federation.hanako;
    let taro = federation.member("taro", "ja");

    // Beta's admin switches the guild to Japanese: kakusan learns it from GUILD_UPDATE, with no
    // interaction in between.
    beta.set_guild_locale(sim, "ja");
    eventually(PATIENCE, "beta to store its guild's locale", || async {
        let locale = beta.stored_locale().await;
        (locale.as_deref() == Some("ja"))
            .then_some(())
            .ok_or(format!("{locale:?}"))
    })
    .await;

    // Taro's /regtimes on both sides, in Japanese. Beta first, so that alpha's announcement
    // later finds his times at beta and he is told there, in beta's language.
    let reply = say(sim, beta, taro.beta_times, taro.id, "regtimes", vec![]).await;
    assert_eq!(
        reply,
        "このチャンネルを **beta** でのあなたの times にしました。相互連携サーバー 1 件に知らせました。/here で投稿すると、他のサーバーの times にも届きます。"
    );
    let reply = say(sim, alpha, taro.alpha_times, taro.id, "regtimes", vec![]).await;
    assert!(
        reply.starts_with("このチャンネルを **alpha** でのあなたの times にしました。"),
        "{reply}"
    );
    federation.wait_destinations(2).await;
    let notice = format!(
        "<@{}> さん: ここでの投稿は **alpha**（あちらのあなたの times）にも届くようになりました。/sharelist で確認・停止できます。",
        taro.id
    );
    eventually(PATIENCE, "the notice in Taro's times at beta", || async {
        let texts: Vec<String> = sim
            .messages(taro.beta_times)
            .into_iter()
            .map(|message| message.content)
            .collect();
        texts
            .contains(&notice)
            .then_some(())
            .ok_or(format!("{texts:?}"))
    })
    .await;

    // /sharelist: his times here and his destination, with its Stop button, in Japanese.
    let sharelist = alpha
        .invoke(sim, taro.alpha_times, taro.id, "sharelist", vec![])
        .await;
    assert_eq!(
        sharelist.content,
        format!(
            "このサーバー: <#{}>、正常\n**beta**: taro さんの times、正常",
            taro.alpha_times
        )
    );
    assert_eq!(
        sharelist.components[0]["components"][0]["label"],
        "beta を停止"
    );

    // /here delivers and says so in each member's language; a time kakusan cannot read is
    // refused in it, and nothing is relayed. Hanako reads English.
    for (user, channel, delivered, unreadable) in [
        (
            taro.id,
            taro.alpha_times,
            "1 件中 1 件の配信先に届けました。",
            "`someday` を時刻として読み取れません。30m、2h、1d、または 2026-11-23T09:00:00+09:00 のような RFC 3339 形式で指定してください",
        ),
        (
            hanako,
            alpha.times,
            "Delivered to 1 of 1 destination.",
            "cannot read `someday` as a time: use 30m, 2h, 1d or an RFC 3339 time like 2026-11-23T09:00:00+09:00",
        ),
    ] {
        let here = |options| say(sim, alpha, channel, user, "here", options);
        assert_eq!(here(vec![("message", string("hello"))]).await, delivered);
        let later = vec![("message", string("later")), ("at", string("someday"))];
        assert_eq!(here(later).await, unreadable);
    }
    // An admin command from a member who may not run it, with a server that shows it to
    // everyone: the refusal is Japanese too.
    let interaction = alpha.start_command(sim, taro.alpha_times, taro.id, "card", vec![], true);
    let refusal = sim.wait_for_reply(&interaction, PATIENCE).await.unwrap();
    assert_eq!(
        refusal.content,
        "ここで /card を実行するには「サーバー管理」権限が必要です。"
    );

    // Hanako reads English at beta too, whose guild is Japanese: her own client's language
    // comes first.
    let sharelist = say(sim, beta, beta.times, hanako, "sharelist", vec![]).await;
    assert_eq!(
        sharelist,
        format!(
            "Here: <#{}>, ok\n**alpha**: times of hanako, ok",
            beta.times
        )
    );

    // A bot-com line is in its guild's language: the same refused envelope is reported in
    // Japanese at beta and in English at alpha.
    for side in [alpha, beta] {
        let master = sim.webhooks(side.botcom).remove(0);
        post_through_webhook(&sim.api_url(), master.id, &master.token, "not an envelope").await;
    }
    for (side, expected) in [
        (alpha, "Envelope check: "),
        (
            beta,
            "受け取ったメッセージを拒否しました（形式が正しくありません）: ",
        ),
    ] {
        eventually(PATIENCE, "the refusal in the bot-com channel", || async {
            let lines: Vec<String> = side
                .botcom_messages(sim)
                .into_iter()
                .filter(|message| message.webhook_id.is_none())
                .map(|message| message.content)
                .collect();
            lines
                .iter()
                .any(|line| line.starts_with(expected))
                .then_some(())
                .ok_or(format!("{lines:?}"))
        })
        .await;
    }
}
