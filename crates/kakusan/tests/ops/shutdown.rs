//! SIGTERM in the middle of a fan-out: a prompt, clean exit, and the rest after a restart.

use std::time::{Duration, Instant};

use discord_sim::DiscordSim;
use kakusan_storage::{PgPool, outbox};
use kakusan_testkit::delivery::World;
use kakusan_testkit::process::{sigterm, wait_for_exit};
use kakusan_testkit::{TestDatabase, eventually};

use crate::{Running, delivered, fan_out, live_contents};

const DESTINATIONS: usize = 10;
/// At the simulator's 5 calls per 2 s per webhook, a lane needs about 8 s for these.
const MESSAGES: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_fan_out_exits_promptly_and_a_restart_delivers_the_rest() {
    let started = Instant::now();
    let database = TestDatabase::create().await;
    let pool = PgPool::connect(&database.url).await.unwrap();
    kakusan_storage::migrate(&pool).await.unwrap();
    let sim = DiscordSim::start_default().await.unwrap();
    let world = World::build(&pool, &sim, DESTINATIONS).await;
    fan_out(&pool, &world.destinations, MESSAGES, None).await;
    let total = DESTINATIONS * MESSAGES as usize;

    let mut first = Running::start(&database.url, &sim, &world.token);
    eventually(Duration::from_secs(20), "40 relays delivered", async || {
        delivered(&sim, &world.destinations) >= 40
    })
    .await;
    let signalled = Instant::now();
    sigterm(&first.child);
    let status = wait_for_exit(&mut first.child, Duration::from_secs(10));
    let exit_took = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    let at_exit = delivered(&sim, &world.destinations);
    assert!(at_exit < total, "stopped in the middle, not after the end");
    let lines = first.drain_lines();
    assert!(
        lines.iter().any(|line| line.contains("delivery stopped")),
        "{lines:#?}"
    );
    // A graceful stop finished its running calls and recorded them: nothing is left leased.
    let pending = outbox::pending_jobs(&pool, 100, None).await.unwrap();
    assert_eq!(
        pending.len() + at_exit,
        total,
        "every job is delivered or queued"
    );

    let _second = Running::start(&database.url, &sim, &world.token);
    eventually(Duration::from_secs(20), "the rest delivered", async || {
        outbox::pending_jobs(&pool, 100, None)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let expected: Vec<String> = (1..=MESSAGES).map(|n| format!("relay {n}")).collect();
    for (index, destination) in world.destinations.iter().enumerate() {
        assert_eq!(
            live_contents(&sim, destination.channel_id),
            expected,
            "destination {index}: everything once, in order"
        );
    }
    println!(
        "shutdown test: {at_exit} of {total} delivered at SIGTERM, exit after {exit_took:?}; \
         took {:?}",
        started.elapsed()
    );
    sim.shutdown().await;
}
