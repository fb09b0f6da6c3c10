//! `kill -9` in a scaled-out deployment: a worker in the middle of a fan-out and of a mirror
//! edit burst, and the gateway with events published but not yet handled or with posts made
//! while it was away.

use std::time::Duration;

use kakusan_bus::Lane;
use kakusan_testkit::burst::{Burst, acknowledged};
use kakusan_testkit::federation::{Deployment, Federation, Scale};
use kakusan_testkit::{PATIENCE, eventually};

use crate::{KAKUSAN, second_answers};

/// The fan-out's posts: `fan-out 00`, `fan-out 01`, ….
const FAN_OUT: Burst = Burst::new("fan-out");

/// Posts around a gateway's absence: `order 00`, `order 01`, ….
const AROUND: Burst = Burst::new("order");

/// Long enough for a killed worker's event to be handed out again (the worker's ack wait is
/// 10 s) and for the rest to go out at the webhooks' pace.
const AFTER_A_KILL: Duration = Duration::from_secs(60);

/// The worker of `side` that holds the lane of `key` (a channel, a member).
async fn holder_of(side: &Deployment, key: u64) -> usize {
    let series = format!("kakusan_worker_lane_held{{lane=\"{}\"}}", Lane::of_key(key));
    eventually(PATIENCE, "a worker to hold the lane", || async {
        for worker in 0..side.worker_ports.len() {
            if side.worker_metric(worker, &series).await == Some(1.0) {
                return Some(worker);
            }
        }
        None
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_in_the_middle_of_a_fan_out_loses_nothing_and_keeps_the_order() {
    const BURST: usize = 12;
    let mut federation = Federation::peered_scaled(KAKUSAN, false, Scale::workers(3)).await;
    let (alpha_times, beta_times) = (federation.alpha.times, federation.beta.times);
    let holder = holder_of(&federation.alpha, federation.hanako).await;
    let interactions = FAN_OUT.send(&federation, BURST);
    eventually(PATIENCE, "the fan-out to be under way", || async {
        let sim = &federation.sim;
        (!FAN_OUT.posts(sim, beta_times).is_empty() && acknowledged(sim, &interactions).len() >= 3)
            .then_some(())
    })
    .await;
    federation.alpha.kill_worker(holder);
    let acked_at_kill = acknowledged(&federation.sim, &interactions).len();
    assert!(
        acked_at_kill < BURST,
        "the kill came too late to test anything: all {BURST} were acknowledged"
    );

    // The member's lane moves to another worker; what was queued in NATS is handled there.
    let new_holder = holder_of(&federation.alpha, federation.hanako).await;
    assert_ne!(new_holder, holder, "the lane moved to a live worker");
    let sim = &federation.sim;
    eventually(AFTER_A_KILL, "every /here to be settled", || async {
        let settled = (0..BURST).all(|index| {
            let text = FAN_OUT.text(index);
            let acked = sim
                .interaction(interactions[index].id)
                .is_some_and(|i| i.response.is_some());
            !acked || FAN_OUT.posts(sim, beta_times).contains(&text)
        });
        let last = FAN_OUT.text(BURST - 1);
        (settled && FAN_OUT.posts(sim, beta_times).contains(&last)).then_some(())
    })
    .await;
    let acked = acknowledged(sim, &interactions);
    FAN_OUT.check_arrivals("beta", &FAN_OUT.posts(sim, beta_times), &acked);
    eventually(PATIENCE, "alpha's channel to have them too", || async {
        FAN_OUT
            .posts(sim, alpha_times)
            .contains(&FAN_OUT.text(BURST - 1))
            .then_some(())
    })
    .await;
    FAN_OUT.check_arrivals("alpha's channel", &FAN_OUT.posts(sim, alpha_times), &acked);
    assert!(second_answers(sim).is_empty(), "{:?}", second_answers(sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_in_the_middle_of_an_edit_burst_keeps_the_edits_in_order() {
    const EDITS: usize = 16;
    let mut federation = Federation::peered_scaled(KAKUSAN, true, Scale::workers(3)).await;
    let post = federation.hanako_posts("edit v00");
    let copy = eventually(PATIENCE, "the mirrored copy", || async {
        federation
            .copies_at_beta()
            .into_iter()
            .find(|m| m.content == "edit v00")
    })
    .await;
    let holder = holder_of(&federation.alpha, federation.alpha.times).await;
    for version in 1..=EDITS {
        federation
            .sim
            .edit_message(post, &format!("edit v{version:02}"))
            .unwrap();
        if version == EDITS / 3 {
            federation.alpha.kill_worker(holder);
        }
    }
    let sim = &federation.sim;
    let last = format!("edit v{EDITS:02}");
    eventually(AFTER_A_KILL, "the last edit to reach the copy", || async {
        let content = sim.message(copy.id).map(|m| m.content);
        (content.as_deref() == Some(last.as_str()))
            .then_some(())
            .ok_or(format!("{content:?}"))
    })
    .await;
    // The copy went through the edits in their order (coalescing may skip some, a
    // redelivery may repeat one), and there is one copy.
    let versions: Vec<String> = sim
        .calls()
        .into_iter()
        .filter(|call| {
            call.method == "PATCH" && call.path.ends_with(&format!("/messages/{}", copy.id))
        })
        .filter_map(|call| {
            let body: serde_json::Value = serde_json::from_str(&call.body).ok()?;
            Some(body["content"].as_str()?.to_owned())
        })
        .collect();
    assert!(!versions.is_empty(), "no edit reached the copy's webhook");
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(versions, sorted, "edits out of order: {versions:?}");
    let new_holder = holder_of(&federation.alpha, federation.alpha.times).await;
    assert_ne!(new_holder, holder, "the lane moved to a live worker");
    let copies = federation
        .copies_at_beta()
        .into_iter()
        .filter(|m| m.content.starts_with("edit v"))
        .count();
    assert_eq!(copies, 1);
}

/// The copies at beta whose text starts with `prefix`, by text.
fn copies_with(federation: &Federation, prefix: &str) -> Vec<String> {
    federation
        .copies_at_beta()
        .into_iter()
        .map(|m| m.content)
        .filter(|content| content.starts_with(prefix))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_before_the_gateway_is_killed_are_handled_and_a_stopped_gateway_resumes() {
    const POSTS: usize = 3;
    let mut federation = Federation::peered_scaled(KAKUSAN, true, Scale::workers(2)).await;
    // No worker: what the gateway publishes waits in the stream.
    federation.alpha.kill_worker(0);
    federation.alpha.kill_worker(1);
    let published =
        "kakusan_bus_events_published_total{kind=\"MESSAGE_CREATE\",outcome=\"stored\"}";
    let before = federation.alpha.metric(published).await.unwrap_or(0.0);
    let posts: Vec<u64> = (0..POSTS)
        .map(|index| federation.hanako_posts(&format!("queued {index}")))
        .collect();
    eventually(PATIENCE, "the gateway to publish the posts", || async {
        let now = federation.alpha.metric(published).await.unwrap_or(0.0);
        (now >= before + POSTS as f64).then_some(()).ok_or(now)
    })
    .await;
    federation.alpha.kill_gateway(0);

    // A new gateway identifies (the killed one saved no session); stopped with SIGTERM, it
    // saves its session, and the next one resumes it: an edit made meanwhile is replayed.
    let sim = &federation.sim;
    let app = federation.alpha.app.id;
    let before_restart = sim.handshakes(app).len();
    federation.alpha.start_gateway(0);
    let sim = &federation.sim;
    let next_handshake = |seen: usize| async move {
        eventually(PATIENCE, "the gateway's handshake", || async {
            let handshakes = sim.handshakes(app);
            (handshakes.len() > seen)
                .then(|| handshakes.last().cloned())
                .flatten()
        })
        .await
    };
    let identified = next_handshake(before_restart).await;
    assert!(
        matches!(identified, discord_sim::Handshake::Identify { .. }),
        "{identified:?}"
    );
    let seen = sim.handshakes(app).len();
    federation.alpha.stop_gateway(0);
    sim.edit_message(posts[0], "queued 0 (edited while no gateway ran)")
        .unwrap();
    federation.alpha.start_gateway(0);
    let resumed = next_handshake(seen).await;
    assert!(
        matches!(resumed, discord_sim::Handshake::Resume { .. }),
        "the restarted gateway resumed: {resumed:?}"
    );

    federation.alpha.start_worker(0);
    federation.alpha.start_worker(1);
    eventually(AFTER_A_KILL, "every queued post to reach beta", || async {
        let copies = copies_with(&federation, "queued ");
        let all = (0..POSTS).all(|index| {
            copies
                .iter()
                .any(|c| c.starts_with(&format!("queued {index}")))
        });
        let edited = copies
            .iter()
            .any(|c| c.ends_with("(edited while no gateway ran)"));
        (all && edited).then_some(()).ok_or(format!("{copies:?}"))
    })
    .await;
    // Each once: NATS stored each event once, and the READY catch-up of the new session,
    // which reads the same posts from the channel's history, ran before the workers handled
    // the events (the catch-up gate held them), so they found the posts read.
    let copies = copies_with(&federation, "queued ");
    for index in 0..POSTS {
        let count = copies
            .iter()
            .filter(|c| c.starts_with(&format!("queued {index}")))
            .count();
        assert_eq!(count, 1, "queued {index}: {copies:?}");
    }
    assert!(second_answers(sim).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_made_while_no_gateway_ran_arrive_once_and_before_the_new_sessions_posts() {
    const AWAY: usize = 6;
    const LIVE: usize = 6;
    let mut federation = Federation::peered_scaled(KAKUSAN, true, Scale::workers(3)).await;
    let (app, times) = (federation.alpha.app.id, federation.alpha.times);
    // Killed, the gateway saves no session: the next one identifies, and the worker holding
    // the READY lane reads the posts made meanwhile back from the channel.
    federation.alpha.kill_gateway(0);
    for index in 0..AWAY {
        federation.hanako_posts(&AROUND.text(index));
    }
    let before = federation.sim.handshakes(app).len();
    federation.alpha.start_gateway(0);
    let sim = &federation.sim;
    eventually(PATIENCE, "the new gateway's IDENTIFY", || async {
        (sim.handshakes(app).len() > before).then_some(())
    })
    .await;
    // Posts of the new session, handled by other workers than the catch-up's, right away.
    for index in AWAY..AWAY + LIVE {
        federation.hanako_posts(&AROUND.text(index));
    }
    let all: Vec<usize> = (0..AWAY + LIVE).collect();
    eventually(AFTER_A_KILL, "every post to reach beta", || async {
        let posts = AROUND.posts(sim, federation.beta.times);
        (posts.len() >= all.len())
            .then_some(())
            .ok_or(format!("{posts:?}"))
    })
    .await;
    // None lost, none twice, in the order posted; and alpha's own channel holds only hers.
    let posts = AROUND.posts(sim, federation.beta.times);
    AROUND.check_arrivals("beta", &posts, &all);
    assert_eq!(posts.len(), all.len(), "each once: {posts:?}");
    assert!(AROUND.posts(sim, times).is_empty());
}
