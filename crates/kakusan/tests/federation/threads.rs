//! Threads and forum posts as times: the webhook is the parent channel's, and every call through
//! it names the thread; archived threads are reopened by the post, locked ones break their
//! destination with a reason the member can read.

use discord_sim::{CommandOptionValue, DiscordSim, Message, MessageDraft};
use kakusan_testkit::federation::{
    BOT_PERMISSIONS, Deployment, Federation, card_in, destinations, string, wait_mutual_peers,
};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

/// The live copies webhooks posted in a channel or thread.
fn copies_in(sim: &DiscordSim, channel: u64) -> Vec<Message> {
    sim.messages(channel)
        .into_iter()
        .filter(|m| !m.deleted && m.webhook_id.is_some() && m.interaction_metadata.is_none())
        .collect()
}

/// Waits for the copy of `text` in `channel`.
async fn copy_of(sim: &DiscordSim, channel: u64, text: &str) -> Message {
    eventually(PATIENCE, &format!("the copy of {text:?}"), || async {
        copies_in(sim, channel)
            .into_iter()
            .find(|m| m.content == text)
            .ok_or_else(|| format!("{:?}", contents(&copies_in(sim, channel))))
    })
    .await
}

fn contents(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.content.as_str()).collect()
}

/// Hanako's `/here` with `text` in `channel` of `side`; returns the reply.
async fn here(federation: &Federation, side: &Deployment, channel: u64, text: &str) -> String {
    side.invoke(
        &federation.sim,
        channel,
        federation.hanako,
        "here",
        vec![("message", string(text))],
    )
    .await
    .content
}

/// Alpha and beta set up and mutual, no times registered yet.
async fn mutual(federation: &Federation) {
    let card_alpha = federation.alpha.setup(&federation.sim).await;
    let card_beta = federation.beta.setup(&federation.sim).await;
    federation.regserver(&federation.alpha, &card_beta).await;
    federation.regserver(&federation.beta, &card_alpha).await;
    federation.wait_mutual().await;
}

/// Hanako's times at beta: a post she opens in a forum channel. Returns (forum, post).
async fn forum_post_times(federation: &Federation) -> (u64, u64) {
    let (sim, beta) = (&federation.sim, &federation.beta);
    let forum = sim.create_forum(beta.guild, "times").unwrap();
    let post = sim
        .create_forum_post(forum, federation.hanako, "hanako", "my times here")
        .unwrap();
    let reply = beta
        .invoke(sim, post, federation.hanako, "regtimes", vec![])
        .await
        .content;
    assert!(
        reply.contains("is your times") && reply.contains(&format!("<#{forum}>")),
        "{reply}"
    );
    (forum, post)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_and_a_forum_post_are_times_with_here_mirror_mode_archiving_and_rotation() {
    let federation = Federation::start(KAKUSAN).await;
    let (sim, alpha, beta, hanako) = (
        &federation.sim,
        &federation.alpha,
        &federation.beta,
        federation.hanako,
    );
    mutual(&federation).await;

    // A thread's webhook could post in its parent: a thread of the bot-com channel is no times.
    let inside_botcom = sim.create_thread(alpha.botcom, "hanako's corner").unwrap();
    let reply = alpha
        .invoke(sim, inside_botcom, hanako, "regtimes", vec![])
        .await
        .content;
    assert!(
        reply.starts_with("The bot-com channel cannot be a times"),
        "{reply}"
    );
    assert_eq!(
        sim.webhooks(alpha.botcom).len(),
        1,
        "only the master webhook"
    );

    // At alpha her times is a thread of the times channel, in mirror mode; at beta a forum post.
    let thread = sim.create_thread(alpha.times, "hanako's log").unwrap();
    let reply = alpha
        .invoke(
            sim,
            thread,
            hanako,
            "regtimes",
            vec![("mirror", CommandOptionValue::Boolean(true))],
        )
        .await
        .content;
    assert!(
        reply.contains("is your times") && reply.contains(&format!("<#{}>", alpha.times)),
        "{reply}"
    );
    let (forum, post) = forum_post_times(&federation).await;
    // Threads have no webhooks of their own: each is its parent's.
    assert_eq!(sim.webhooks(alpha.times).len(), 1);
    assert_eq!(sim.webhooks(forum).len(), 1);
    assert!(sim.webhooks(thread).is_empty() && sim.webhooks(post).is_empty());
    federation.wait_destinations(1).await;
    let thread_known_at = async |side: &Deployment| {
        sqlx::query_scalar::<_, Option<i64>>("SELECT thread_id FROM destinations")
            .fetch_one(&side.pool)
            .await
            .unwrap()
            .map(|id| id as u64)
    };
    assert_eq!(thread_known_at(alpha).await, Some(post));
    assert_eq!(thread_known_at(beta).await, Some(thread));

    // /here in the thread lands in beta's forum post and in the thread itself, not in the
    // parent channels; and back from the forum post into alpha's thread.
    let reply = here(&federation, alpha, thread, "from a thread").await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let copy = copy_of(sim, post, "from a thread").await;
    assert_eq!(copy.author_name, "hanako (alpha)");
    copy_of(sim, thread, "from a thread").await;
    let reply = here(&federation, beta, post, "from a forum post").await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    copy_of(sim, thread, "from a forum post").await;
    copy_of(sim, post, "from a forum post").await;
    for parent in [alpha.times, forum] {
        assert!(copies_in(sim, parent).is_empty(), "nothing in {parent}");
    }

    // Mirror mode in the thread: her message, its edit and its delete reach the copy (the edit
    // and the delete find it only with the thread's id).
    let mine = sim
        .post_message(thread, hanako, MessageDraft::text("mirrored in a thread"))
        .unwrap();
    let copy = copy_of(sim, post, "mirrored in a thread").await;
    sim.edit_message(mine, "mirrored in a thread (edited)")
        .unwrap();
    eventually(PATIENCE, "the edit to reach the copy", || async {
        (sim.message(copy.id)?.content == "mirrored in a thread (edited)").then_some(())
    })
    .await;

    // Once the forum post is archived, Discord refuses to change its messages: that edit fails
    // on its own, the destination stays working, and the delete still reaches the copy.
    sim.set_thread_state(post, true, false).unwrap();
    sim.edit_message(mine, "edited while the post was archived")
        .unwrap();
    let failed = eventually(PATIENCE, "the refused edit to fail", || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT last_error FROM outbox_jobs WHERE operation = 'edit' AND failed_at IS NOT NULL",
        )
        .fetch_optional(&alpha.pool)
        .await
        .unwrap()
        .flatten()
    })
    .await;
    assert!(failed.contains("archived thread"), "{failed}");
    assert_eq!(
        sim.message(copy.id).unwrap().content,
        "mirrored in a thread (edited)"
    );
    sim.delete_message(mine).unwrap();
    eventually(PATIENCE, "the delete to reach the copy", || async {
        sim.message(copy.id)?.deleted.then_some(())
    })
    .await;

    // The archived (not locked) forum post is reopened by the next relay, as Discord does.
    let reply = here(&federation, alpha, thread, "while it was archived").await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    copy_of(sim, post, "while it was archived").await;
    assert!(!sim.channel(post).unwrap().archived, "the post reopened it");
    let broken: Option<String> = sqlx::query_scalar("SELECT broken_reason FROM destinations")
        .fetch_one(&alpha.pool)
        .await
        .unwrap();
    assert_eq!(broken, None);

    // Every times in a post has its webhook in the forum, where Discord allows 15: once they
    // are taken, the next member is told so, and nothing is registered.
    for filler in 1..15 {
        let created = reqwest::Client::new()
            .post(format!(
                "{}/api/v10/channels/{forum}/webhooks",
                sim.api_url()
            ))
            .header("Authorization", format!("Bot {}", beta.app.token))
            .json(&serde_json::json!({ "name": format!("other {filler}") }))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.status());
    }
    let taro = sim.create_user("taro");
    sim.add_member(beta.guild, taro, &[]).unwrap();
    let his = sim
        .create_forum_post(forum, taro, "taro", "my times")
        .unwrap();
    let reply = beta
        .invoke(sim, his, taro, "regtimes", vec![])
        .await
        .content;
    assert!(reply.contains("already has the 15 webhooks"), "{reply}");
    let registered: i64 = sqlx::query_scalar("SELECT count(*) FROM times")
        .fetch_one(&beta.pool)
        .await
        .unwrap();
    assert_eq!(registered, 1, "only Hanako's");

    // Removing beta replaces the webhook it held: the new one is made in the thread's parent
    // too, since Discord makes none in a thread.
    let old_webhook = sim.webhooks(alpha.times)[0].id;
    let reply = federation.unregserver(&federation.alpha, "beta").await;
    assert!(reply.contains("1 times webhook was replaced"), "{reply}");
    eventually(
        PATIENCE,
        "the old webhook to give way to a new one",
        || async {
            let webhooks = sim.webhooks(alpha.times);
            (webhooks.len() == 1 && webhooks[0].id != old_webhook)
                .then_some(())
                .ok_or_else(|| format!("{webhooks:?}"))
        },
    )
    .await;
    assert!(sim.webhooks(thread).is_empty());
}

/// A second server of beta's deployment, in a guild of its own, peered with alpha, with
/// Hanako's times in a plain channel: her second destination.
async fn gamma(federation: &Federation) -> u64 {
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    let admin = sim.create_user("admin-gamma");
    let guild = sim.create_guild("gamma", admin).unwrap();
    let botcom = sim.create_channel(guild, "bot-com").unwrap();
    let times = sim.create_channel(guild, "times-hanako").unwrap();
    sim.add_bot(guild, beta.app.id, BOT_PERMISSIONS).unwrap();
    sim.add_member(guild, federation.hanako, &[]).unwrap();
    let reply = beta
        .invoke(
            sim,
            botcom,
            admin,
            "setup",
            vec![
                ("name", string("gamma")),
                ("channel", CommandOptionValue::Channel(botcom)),
            ],
        )
        .await;
    let card_gamma = card_in(&reply.content);
    let card_alpha = alpha.card(sim).await;
    federation.regserver(alpha, &card_gamma).await;
    beta.invoke(
        sim,
        botcom,
        admin,
        "regserver",
        vec![("card", string(&card_alpha))],
    )
    .await;
    wait_mutual_peers(alpha, 2).await;
    let reply = beta
        .invoke(sim, times, federation.hanako, "regtimes", vec![])
        .await
        .content;
    assert!(reply.contains("is your times"), "{reply}");
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_thread_breaks_its_destination_with_a_reason_while_another_gets_the_post() {
    let federation = Federation::start(KAKUSAN).await;
    let (sim, alpha, hanako) = (&federation.sim, &federation.alpha, federation.hanako);
    mutual(&federation).await;
    let reply = federation.regtimes(alpha, false).await;
    assert!(reply.contains("is your times"), "{reply}");
    let (_, post) = forum_post_times(&federation).await;
    let gamma_times = gamma(&federation).await;
    eventually(
        PATIENCE,
        "both of Hanako's destinations at alpha",
        || async { (destinations(alpha).await == 2).then_some(()) },
    )
    .await;

    // A moderator at beta archives and locks her forum post: no post can reopen it.
    sim.set_thread_state(post, true, true).unwrap();
    let reply = here(&federation, alpha, alpha.times, "after the lock").await;
    assert!(
        reply.starts_with("Delivered to 1 of 2 destinations. Failed: beta (the thread or forum post is archived and locked"),
        "{reply}"
    );
    copy_of(sim, gamma_times, "after the lock").await;
    assert!(
        !copies_in(sim, post)
            .iter()
            .any(|m| m.content == "after the lock")
    );
    let thread = sim.channel(post).unwrap();
    assert!(thread.archived && thread.locked, "still shut");

    // She reads why in /sharelist; gamma still works, and the next /here skips beta.
    let listed = alpha
        .invoke(sim, alpha.times, hanako, "sharelist", vec![])
        .await
        .content;
    let line = |peer: &str| {
        listed
            .lines()
            .find(|line| line.starts_with(&format!("**{peer}**")))
            .unwrap_or_else(|| panic!("no line for {peer} in {listed}"))
            .to_owned()
    };
    assert!(
        line("beta").contains("broken: the thread or forum post is archived and locked"),
        "{listed}"
    );
    assert!(line("gamma").ends_with("ok"), "{listed}");
    let reply = here(&federation, alpha, alpha.times, "gamma only").await;
    assert!(
        reply.starts_with("Delivered to 1 of 1 destination.")
            && reply.contains("Skipped, because they are broken: beta"),
        "{reply}"
    );
    copy_of(sim, gamma_times, "gamma only").await;
}
