//! `/here` in a harsh world: a burst against rate-limited webhooks on both sides cut by
//! `kill -9`, and a `/here` typed outside the member's times.

use std::time::Duration;

use kakusan_testkit::burst::{Burst, acknowledged};
use kakusan_testkit::federation::{Federation, string};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

/// The burst's posts: `burst 00`, `burst 01`, ….
const POSTS: Burst = Burst::new("burst");

/// More `/here`s than a webhook takes in a rate-limit window (5 per 2 s), several times over.
const BURST: usize = 18;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_burst_of_here_survives_kill_9_in_order_everywhere() {
    let mut federation = Federation::peered(KAKUSAN, false).await;
    let (alpha_times, beta_times) = (federation.alpha.times, federation.beta.times);
    let interactions = POSTS.send(&federation, BURST);
    // Kill alpha once a few relays are out at both ends (so delivery is under way through
    // the rate limits) and most have been acknowledged.
    eventually(PATIENCE, "the burst to be under way", || async {
        let sim = &federation.sim;
        let out = POSTS
            .posts(sim, beta_times)
            .len()
            .min(POSTS.posts(sim, alpha_times).len());
        (out >= 2 && acknowledged(sim, &interactions).len() >= BURST / 2).then_some(())
    })
    .await;
    federation.alpha.kill();
    let sim = &federation.sim;
    let acked = acknowledged(sim, &interactions);
    let (at_beta, at_alpha) = (
        POSTS.posts(sim, beta_times).len(),
        POSTS.posts(sim, alpha_times).len(),
    );
    assert!(
        at_beta < acked.len() && at_alpha < acked.len(),
        "the kill came too late to test anything: {} acknowledged, {at_beta} at beta, {at_alpha} in alpha's channel",
        acked.len()
    );

    federation.alpha.start(&federation.sim).await;
    // The killed process's lease on the calls it was making runs out after 10 s; then the rest
    // go out at the webhooks' pace.
    let sim = &federation.sim;
    let last = POSTS.text(*acked.last().expect("some were acknowledged"));
    eventually(
        PATIENCE + Duration::from_secs(30),
        "every acknowledged relay to arrive",
        || async {
            let (at_beta, at_alpha) = (POSTS.posts(sim, beta_times), POSTS.posts(sim, alpha_times));
            if at_beta.contains(&last) && at_alpha.contains(&last) {
                Ok(())
            } else {
                Err(format!("beta {at_beta:?}, alpha {at_alpha:?}"))
            }
        },
    )
    .await;
    POSTS.check_arrivals("beta", &POSTS.posts(sim, beta_times), &acked);
    POSTS.check_arrivals("alpha's channel", &POSTS.posts(sim, alpha_times), &acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn here_outside_the_members_times_is_posted_by_the_bot_after_it_is_stored() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha) = (&federation.sim, &federation.alpha);
    let elsewhere = sim.create_channel(alpha.guild, "general").unwrap();
    let reply = alpha
        .invoke(
            sim,
            elsewhere,
            federation.hanako,
            "here",
            vec![("message", string("from general"))],
        )
        .await
        .content;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let shown = sim
        .wait_for_message(elsewhere, PATIENCE, |m| m.content.contains("from general"))
        .await
        .unwrap();
    assert!(shown.author_bot && shown.webhook_id.is_none(), "{shown:#?}");
    assert_eq!(shown.content, "**hanako** (/here):\nfrom general");
    assert_eq!(
        shown.allowed_mentions,
        Some(serde_json::json!({ "parse": [] }))
    );
    assert!(
        federation
            .copies_at_beta()
            .iter()
            .any(|m| m.content == "from general")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_make_kakusan_post_where_they_may_not() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, hanako) = (&federation.sim, &federation.alpha, federation.hanako);
    let deny = |channel: u64, bits: u64| {
        sim.set_overwrite(
            channel,
            discord_sim::Overwrite {
                id: hanako,
                kind: 1,
                allow: 0,
                deny: bits,
            },
        )
        .unwrap();
    };
    let read_only = sim.create_channel(alpha.guild, "announcements").unwrap();
    deny(read_only, discord_sim::SEND_MESSAGES);
    let no_files = sim.create_channel(alpha.guild, "no-files").unwrap();
    deny(no_files, discord_sim::ATTACH_FILES);
    let here_in = |channel: u64, file: bool| {
        let mut options = vec![("message", string("where I may not"))];
        if file {
            options.push((
                "attachment",
                discord_sim::CommandOptionValue::Attachment(discord_sim::Upload {
                    filename: "a.txt".into(),
                    content_type: Some("text/plain".into()),
                    data: b"a".to_vec(),
                }),
            ));
        }
        alpha.invoke(sim, channel, hanako, "here", options)
    };

    let reply = here_in(read_only, false).await.content;
    assert!(
        reply.starts_with("You may not send messages in this channel"),
        "{reply}"
    );
    let reply = alpha
        .invoke(sim, read_only, hanako, "regtimes", vec![])
        .await
        .content;
    assert!(
        reply.starts_with("You may not send messages in this channel"),
        "{reply}"
    );
    let reply = here_in(no_files, true).await.content;
    assert!(reply.starts_with("You may not attach files"), "{reply}");
    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox_jobs WHERE member_id IS NOT NULL")
            .fetch_one(&alpha.pool)
            .await
            .unwrap();
    assert_eq!(jobs, 0, "nothing was queued for the refused /here");

    // Without a file she may post there, and in her times everything works.
    let reply = here_in(no_files, false).await.content;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let reply = here_in(alpha.times, true).await.content;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    assert!(
        !sim.messages(read_only)
            .iter()
            .any(|m| m.content.contains("where I may not")),
        "nothing shows where she may not post"
    );
}
