//! `/block` and `/unblock`: an admin stops a remote member's relays from being shown in their
//! server; the sending side sees every relay delivered, another member's relays from the same
//! peer are untouched, `purge:true` removes what arrived before, and `/unblock` restores.

use discord_sim::{CommandOptionValue, DiscordSim, Message};
use kakusan_testkit::federation::{
    BOT_PERMISSIONS, Deployment, Federation, card_in, destinations, string,
};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

/// The message in `channel` with `content`, deleted or not.
fn find(sim: &DiscordSim, channel: u64, content: &str) -> Option<Message> {
    sim.messages(channel)
        .into_iter()
        .find(|m| m.content == content)
}

/// Waits until the message with `content` exists in `channel` and is `deleted` or live.
async fn wait_for(sim: &DiscordSim, channel: u64, content: &str, deleted: bool) {
    eventually(PATIENCE, "a message to arrive or go", || async {
        match find(sim, channel, content) {
            Some(message) if message.deleted == deleted => Ok(()),
            other => Err(format!("{content:?}: {other:?}")),
        }
    })
    .await;
}

async fn block(federation: &Federation, options: Vec<(&str, CommandOptionValue)>) -> String {
    let beta = &federation.beta;
    beta.invoke(&federation.sim, beta.botcom, beta.admin, "block", options)
        .await
        .content
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_members_relays_are_removed_on_arrival_while_others_stay_and_unblock_restores() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta, hanako) = (
        &federation.sim,
        &federation.alpha,
        &federation.beta,
        federation.hanako,
    );
    // Taro is a member of both servers too, with his own times at each.
    let taro = sim.create_user("taro");
    let mut taros_times = Vec::new();
    for side in [alpha, beta] {
        sim.add_member(side.guild, taro, &[]).unwrap();
        let channel = sim.create_channel(side.guild, "times-taro").unwrap();
        let reply = side
            .invoke(sim, channel, taro, "regtimes", vec![])
            .await
            .content;
        assert!(reply.contains("is your times"), "{reply}");
        taros_times.push(channel);
    }
    let (taro_at_alpha, taro_at_beta) = (taros_times[0], taros_times[1]);
    federation.wait_destinations(2).await;
    let taro_here = |text: &str| {
        alpha.invoke(
            sim,
            taro_at_alpha,
            taro,
            "here",
            vec![("message", string(text))],
        )
    };

    // Hanako's relay before the block is shown at beta.
    let reply = federation
        .here(vec![("message", string("before the block"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    assert!(find(sim, beta.times, "before the block").is_some_and(|m| !m.deleted));

    // Only admins block, also where a server lets everyone see /block.
    let interaction = beta.start_command(
        sim,
        beta.times,
        hanako,
        "block",
        vec![("member", CommandOptionValue::User(taro))],
        true,
    );
    let refused = sim
        .wait_for_reply(&interaction, PATIENCE)
        .await
        .unwrap()
        .content;
    assert!(refused.contains("Manage Server"), "{refused}");
    assert_eq!(block(&federation, vec![]).await, "Nobody is blocked here.");
    let unknown = block(
        &federation,
        vec![
            ("member", CommandOptionValue::User(hanako)),
            ("server", string("gamma")),
        ],
    )
    .await;
    assert!(
        unknown.starts_with("There is no registered server named “gamma”"),
        "{unknown}"
    );

    // Beta's admin blocks Hanako's relays through alpha, and purges what arrived.
    let reply = block(
        &federation,
        vec![
            ("member", CommandOptionValue::User(hanako)),
            ("server", string("alpha")),
            ("purge", CommandOptionValue::Boolean(true)),
        ],
    )
    .await;
    assert_eq!(
        reply,
        format!(
            "Blocked: relays from <@{hanako}> through **alpha** are no longer shown here.\n1 earlier copy of theirs is being removed."
        )
    );
    wait_for(sim, beta.times, "before the block", true).await;

    // Her next relay: alpha sees it delivered (nothing tells it of the block), beta removes
    // it; Taro's relay from the same peer stays.
    let reply = federation
        .here(vec![("message", string("after the block"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let reply = taro_here("taro after the block").await.content;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    wait_for(sim, beta.times, "after the block", true).await;
    wait_for(sim, taro_at_beta, "taro after the block", false).await;
    // Her own /here at beta is hers, not a relay: it stays.
    let reply = beta
        .invoke(
            sim,
            beta.times,
            hanako,
            "here",
            vec![("message", string("typed at beta"))],
        )
        .await
        .content;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    wait_for(sim, beta.times, "typed at beta", false).await;
    assert_eq!(metric(beta, "arrival").await, 1.0);
    assert_eq!(metric(beta, "purge").await, 1.0);

    let list = block(&federation, vec![]).await;
    assert!(
        list.starts_with(&format!(
            "Blocked here (1):\n<@{hanako}>, through **alpha**, since <t:"
        )),
        "{list}"
    );

    // Unblocked: her relays are shown again.
    let reply = beta
        .invoke(
            sim,
            beta.botcom,
            beta.admin,
            "unblock",
            vec![
                ("member", CommandOptionValue::User(hanako)),
                ("server", string("alpha")),
            ],
        )
        .await
        .content;
    assert_eq!(
        reply,
        format!("Unblocked: relays from <@{hanako}> are shown here again.")
    );
    let reply = federation
        .here(vec![("message", string("after the unblock"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    wait_for(sim, beta.times, "after the unblock", false).await;
    // Still live once beta had every chance to act on it: a later relay of Taro's, from the
    // same peer, was handled after it.
    taro_here("taro after the unblock").await;
    wait_for(sim, taro_at_beta, "taro after the unblock", false).await;
    assert!(find(sim, beta.times, "after the unblock").is_some_and(|m| !m.deleted));
    assert_eq!(metric(beta, "arrival").await, 1.0);
}

async fn metric(side: &Deployment, when: &str) -> f64 {
    side.metric(&format!("kakusan_blocked_relays_total{{when=\"{when}\"}}"))
        .await
        .unwrap_or_default()
}

/// A second guild served by alpha's deployment, peered with alpha: where alpha itself would
/// make the copy, a block there drops it before any job is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_of_the_same_deployment_that_blocks_a_member_gets_no_copy_queued() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, hanako) = (&federation.sim, &federation.alpha, federation.hanako);
    let gamma_admin = sim.create_user("admin-gamma");
    let gamma = sim.create_guild("gamma", gamma_admin).unwrap();
    let gamma_botcom = sim.create_channel(gamma, "bot-com").unwrap();
    let gamma_times = sim.create_channel(gamma, "times-hanako").unwrap();
    sim.add_bot(gamma, alpha.app.id, BOT_PERMISSIONS).unwrap();
    sim.add_member(gamma, hanako, &[]).unwrap();
    let gamma_card = card_in(
        &alpha
            .invoke(
                sim,
                gamma_botcom,
                gamma_admin,
                "setup",
                vec![
                    ("name", string("gamma")),
                    ("channel", CommandOptionValue::Channel(gamma_botcom)),
                ],
            )
            .await
            .content,
    );
    let alpha_card = alpha.card(sim).await;
    federation.regserver(alpha, &gamma_card).await;
    alpha
        .invoke(
            sim,
            gamma_botcom,
            gamma_admin,
            "regserver",
            vec![("card", string(&alpha_card))],
        )
        .await;
    // Both ways mutual (alpha's database holds alpha's peers beta and gamma, and gamma's
    // peer alpha) before Hanako's times is announced, as in `Federation::peered`.
    eventually(PATIENCE, "alpha and gamma to be mutual", || async {
        let mutual: i64 = sqlx::query_scalar("SELECT count(*) FROM peers WHERE mutual")
            .fetch_one(&alpha.pool)
            .await
            .unwrap();
        (mutual == 3).then_some(())
    })
    .await;
    let reply = alpha
        .invoke(sim, gamma_times, hanako, "regtimes", vec![])
        .await
        .content;
    assert!(reply.contains("is your times"), "{reply}");
    // Alpha's database knows beta's and gamma's times of Hanako (as alpha), and alpha's (as
    // gamma).
    eventually(
        PATIENCE,
        "alpha and gamma to know each other's times",
        || async { (destinations(alpha).await == 3).then_some(()) },
    )
    .await;

    let reply = alpha
        .invoke(
            sim,
            gamma_botcom,
            gamma_admin,
            "block",
            vec![("member", CommandOptionValue::User(hanako))],
        )
        .await
        .content;
    assert_eq!(
        reply,
        format!("Blocked: relays from <@{hanako}> are no longer shown here, from any server.")
    );
    let reply = federation
        .here(vec![("message", string("not for gamma"))])
        .await;
    assert_eq!(reply, "Delivered to 2 of 2 destinations.");
    wait_for(sim, federation.beta.times, "not for gamma", false).await;
    assert!(
        find(sim, gamma_times, "not for gamma").is_none(),
        "never posted at gamma, not even for a moment"
    );
    assert_eq!(
        alpha
            .metric("kakusan_blocked_relays_total{when=\"dropped\"}")
            .await,
        Some(1.0)
    );
    assert_eq!(metric(alpha, "arrival").await, 0.0);
}
