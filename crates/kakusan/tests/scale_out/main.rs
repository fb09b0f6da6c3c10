//! Scaled-out deployments end to end: `kakusan gateway` processes publishing to NATS JetStream
//! (the server on 127.0.0.1:4222, a stream of its own per deployment and test) and
//! `kakusan worker`s handling the events, two deployments federated through the simulator.

mod kills;
mod operator;
mod shards;

use discord_sim::{DiscordSim, RecordedCall};
use kakusan_testkit::federation::{Deployment, Federation, Scale, first_button, press, string};
use kakusan_testkit::process::Binary;
use kakusan_testkit::{PATIENCE, eventually};

/// The binary under test; Cargo names its path only to this package's own tests.
const KAKUSAN: Binary = Binary::new(env!("CARGO_BIN_EXE_kakusan"));

/// Calls that answered an interaction a second time (Discord's 40060): a redelivered event
/// must never cause one.
fn second_answers(sim: &DiscordSim) -> Vec<RecordedCall> {
    sim.calls()
        .into_iter()
        .filter(|call| call.error_code == Some(40060))
        .collect()
}

/// The sum of one series over a deployment's workers.
async fn over_workers(side: &Deployment, series: &str) -> f64 {
    let mut sum = 0.0;
    for worker in 0..side.worker_ports.len() {
        sum += side.worker_metric(worker, series).await.unwrap_or(0.0);
    }
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_federation_flow_passes_with_one_gateway_and_three_workers_per_deployment() {
    // Set-up, /regserver both ways, /regtimes with mirror mode on both sides: all through
    // gateway -> NATS -> workers.
    let mut federation = Federation::peered_scaled(KAKUSAN, true, Scale::workers(3)).await;
    let (sim, alpha) = (&federation.sim, &federation.alpha);

    let reply = federation
        .here(vec![("message", string("hello from a worker"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    eventually(PATIENCE, "the /here copy at beta", || async {
        federation
            .copies_at_beta()
            .iter()
            .any(|m| m.content == "hello from a worker")
            .then_some(())
    })
    .await;

    // Mirror mode: a post, a burst of edits (one channel: one lane, in order), a delete.
    let post = federation.hanako_posts("mirrored v0");
    let copy = eventually(PATIENCE, "the mirrored copy", || async {
        federation
            .copies_at_beta()
            .into_iter()
            .find(|m| m.content.starts_with("mirrored v"))
    })
    .await;
    for version in 1..=6 {
        sim.edit_message(post, &format!("mirrored v{version}"))
            .unwrap();
    }
    eventually(PATIENCE, "the last edit to reach the copy", || async {
        let content = sim.message(copy.id).map(|m| m.content);
        (content.as_deref() == Some("mirrored v6"))
            .then_some(())
            .ok_or(format!("{content:?}"))
    })
    .await;
    sim.delete_message(post).unwrap();
    eventually(PATIENCE, "the delete to reach the copy", || async {
        sim.message(copy.id)?.deleted.then_some(())
    })
    .await;

    // The lanes are spread over the workers, and every interaction was answered once.
    for worker in 0..3 {
        let held = alpha
            .worker_metric(worker, "kakusan_worker_lanes_held")
            .await
            .unwrap_or(0.0);
        assert!(
            (1.0..=6.0).contains(&held),
            "worker {worker} holds {held} of 17 lanes"
        );
    }
    let handled = over_workers(
        alpha,
        "kakusan_worker_events_total{kind=\"interaction_create\",outcome=\"handled\"}",
    )
    .await;
    assert!(
        handled >= 4.0,
        "setup, regserver, regtimes, here: {handled}"
    );
    assert!(second_answers(sim).is_empty(), "{:?}", second_answers(sim));
    let copies: Vec<String> = federation
        .copies_at_beta()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        copies,
        ["hello from a worker"],
        "one copy each, the deleted one gone"
    );

    // A worker stopped as an operator stops it exits cleanly, and its lanes go to the others.
    federation.alpha.stop_worker(2);
    federation.alpha.wait_lanes_held().await;
    let reply = federation
        .here(vec![("message", string("after a worker left"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");

    let (sim, alpha, hanako) = (&federation.sim, &federation.alpha, federation.hanako);
    // Pings by four members (one ping each per 30 s): each hears its pong, whichever worker
    // handles its command and whichever reads the pong in the bot-com channel.
    for name in ["umi", "sora", "riku", "nagi"] {
        let member = federation.member(name, "en-US");
        let ping = alpha
            .invoke(
                sim,
                member.alpha_times,
                member.id,
                "ping",
                vec![("server", string("beta"))],
            )
            .await
            .content;
        assert!(ping.contains("pong in"), "{name}: {ping}");
    }

    // /forget-me's report hears beta's answer whichever of alpha's workers receives it: the
    // answer comes in the bot-com channel's lane, the button in its interaction's, often
    // another worker's.
    let confirm = alpha
        .invoke(sim, alpha.times, hanako, "forget-me", vec![])
        .await;
    let report = press(sim, confirm.id, hanako, &first_button(&confirm)).await;
    assert!(report.contains("Forgotten here: 2 copies"), "{report}");
    assert!(
        report.contains("**beta** confirmed: 0 copies deleted there"),
        "{report}"
    );
}
