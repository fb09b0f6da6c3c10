//! The crash test of the delivery engine (SPEC §4): the real `kakusan` binary is killed with
//! SIGKILL in the middle of a fan-out and started again. Nothing may be lost, at most one
//! message per destination may arrive twice, and each destination keeps the order.

mod common;
// The delivery tests' world: our server, and destinations at peers with webhooks in the
// simulator.
#[allow(dead_code, unreachable_pub)]
#[path = "../../kakusan-relay/tests/delivery/harness.rs"]
mod harness;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::{TestDatabase, kakusan, sigterm};
use discord_sim::DiscordSim;
use kakusan_relay::delivery::{RelayJob, SendPayload, enqueue_send};
use kakusan_storage::{PgPool, outbox};

const DESTINATIONS: usize = 10;
const MESSAGES: usize = 20;

fn start(dir: &tempfile::TempDir, database: &TestDatabase, sim: &DiscordSim, token: &str) -> Child {
    kakusan(dir)
        .arg("run")
        .env("DISCORD_TOKEN", token)
        .env("DATABASE_URL", &database.url)
        .env("KAKUSAN_DISCORD_API", sim.api_url())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn live_contents(sim: &DiscordSim, channel_id: u64) -> Vec<String> {
    sim.messages(channel_id)
        .into_iter()
        .filter(|message| !message.deleted)
        .map(|message| message.content)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_a_fan_out_loses_nothing() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database = TestDatabase::create().await;
    let pool = PgPool::connect(&database.url).await.unwrap();
    kakusan_storage::migrate(&pool).await.unwrap();
    let sim = DiscordSim::start_default().await.unwrap();
    let harness::World {
        token,
        destinations,
        ..
    } = harness::World::build(&pool, &sim, DESTINATIONS).await;

    // 200 jobs: each of 20 messages to each of 10 destinations, as the fan-out writes them.
    let mut connection = pool.acquire().await.unwrap();
    for message in 1..=MESSAGES as u64 {
        for destination in &destinations {
            let job = RelayJob {
                server_guild_id: 100,
                destination_id: destination.id,
                webhook_id: destination.webhook_id,
                member_id: 7,
                source_message_id: message,
                relay_id: None,
            };
            let payload = SendPayload {
                content: format!("relay {message}"),
                username: "Hanako (alpha)".into(),
                avatar_url: None,
                attachments: Vec::new(),
            };
            enqueue_send(&mut connection, &job, &payload, None)
                .await
                .unwrap();
        }
    }
    drop(connection);

    let dir = tempfile::tempdir().unwrap();
    let mut first = start(&dir, &database, &sim, &token);
    let total = || -> usize {
        destinations
            .iter()
            .map(|d| live_contents(&sim, d.channel_id).len())
            .sum()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while total() < 40 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first process delivered too little"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = total();
    assert!(
        at_kill < DESTINATIONS * MESSAGES,
        "killed in the middle, not after the end"
    );

    let mut second = start(&dir, &database, &sim, &token);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !outbox::pending_jobs(&pool, 100, None)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted process did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sigterm(&second);
    assert!(second.wait().unwrap().success(), "a clean exit on SIGTERM");

    let expected: Vec<String> = (1..=MESSAGES).map(|n| format!("relay {n}")).collect();
    let mut duplicates = 0;
    for (index, destination) in destinations.iter().enumerate() {
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
        "crash test: {at_kill} of {} delivered before SIGKILL; after restart all delivered, \
         {duplicates} duplicates over {DESTINATIONS} destinations",
        DESTINATIONS * MESSAGES
    );
    sim.shutdown().await;
}
