//! The crash test of the delivery engine (SPEC §4): the real binary is killed with SIGKILL in
//! the middle of a fan-out and started again. Nothing may be lost, at most one message per
//! destination may arrive twice, and each destination keeps the order.

use std::time::Duration;

use discord_sim::DiscordSim;
use kakusan_storage::{PgPool, outbox};
use kakusan_testkit::delivery::World;
use kakusan_testkit::process::{sigterm, wait_for_exit};
use kakusan_testkit::{TestDatabase, eventually};

use crate::{Running, delivered, fan_out, live_contents};

const DESTINATIONS: usize = 10;
const MESSAGES: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_a_fan_out_loses_nothing() {
    let database = TestDatabase::create().await;
    let pool = PgPool::connect(&database.url).await.unwrap();
    kakusan_storage::migrate(&pool).await.unwrap();
    let sim = DiscordSim::start_default().await.unwrap();
    let world = World::build(&pool, &sim, DESTINATIONS).await;
    // 200 jobs: each of 20 messages to each of 10 destinations, as the fan-out writes them.
    fan_out(&pool, &world.destinations, MESSAGES, None).await;
    let total = DESTINATIONS * MESSAGES as usize;

    let mut first = Running::start(&database.url, &sim, &world.token);
    eventually(Duration::from_secs(60), "40 relays delivered", async || {
        delivered(&sim, &world.destinations) >= 40
    })
    .await;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    let at_kill = delivered(&sim, &world.destinations);
    assert!(at_kill < total, "killed in the middle, not after the end");

    let mut second = Running::start(&database.url, &sim, &world.token);
    // The killed process's leases run out after 10 s before its jobs are taken over.
    eventually(Duration::from_secs(90), "the rest delivered", async || {
        outbox::pending_jobs(&pool, 100, None)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    sigterm(&second.child);
    let status = wait_for_exit(&mut second.child, Duration::from_secs(10));
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");

    let expected: Vec<String> = (1..=MESSAGES).map(|n| format!("relay {n}")).collect();
    let mut duplicates = 0;
    for (index, destination) in world.destinations.iter().enumerate() {
        let mut got = live_contents(&sim, destination.channel_id);
        let before = got.len();
        // A repeat can only be the message in flight at the kill: it follows itself.
        got.dedup();
        let repeated = before - got.len();
        assert!(repeated <= 1, "destination {index}: {repeated} duplicates");
        duplicates += repeated;
        assert_eq!(got, expected, "destination {index}: everything, in order");
    }
    println!(
        "crash test: {at_kill} of {total} delivered before SIGKILL; after restart all \
         delivered, {duplicates} duplicates over {DESTINATIONS} destinations"
    );
    sim.shutdown().await;
}
