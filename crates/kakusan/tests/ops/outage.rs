//! PostgreSQL goes away while kakusan runs, and comes back.

use std::time::{Duration, Instant};

use discord_sim::DiscordSim;
use kakusan_storage::{PgPool, outbox};
use kakusan_testkit::delivery::World;
use kakusan_testkit::endpoint::{get, sample};
use kakusan_testkit::{Cluster, eventually};

use crate::{Running, delivered, fan_out, live_contents};

const DESTINATIONS: usize = 4;
const MESSAGES: u64 = 3;
/// How far ahead the jobs are scheduled: enough for kakusan to start and the database to be
/// stopped before any is due, so that they all fall due during the outage.
const DUE_IN: Duration = Duration::from_secs(4);
/// How long the database stays down after the jobs fell due.
const DOWN_PAST_DUE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_relays_wait_out_a_database_outage_and_go_out_after_it() {
    let started = Instant::now();
    let cluster = Cluster::start();
    let pool = PgPool::connect(&cluster.url).await.unwrap();
    kakusan_storage::migrate(&pool).await.unwrap();
    let sim = DiscordSim::start_default().await.unwrap();
    let world = World::build(&pool, &sim, DESTINATIONS).await;
    let due_at = chrono::Utc::now() + DUE_IN;
    fan_out(&pool, &world.destinations, MESSAGES, Some(due_at)).await;
    pool.close().await;

    let mut kakusan = Running::start(&cluster.url, &sim, &world.token);
    let addr = kakusan.addr;
    eventually(Duration::from_secs(10), "/readyz says ready", async || {
        get(addr, "/readyz").await.map(|(status, _)| status) == Some(200)
    })
    .await;
    cluster.stop();
    let margin = due_at - chrono::Utc::now();
    assert!(
        margin > chrono::TimeDelta::zero(),
        "the database went down before the jobs were due"
    );
    assert_eq!(delivered(&sim, &world.destinations), 0);

    // Down until well after the jobs fell due: kakusan stays up, alive and not ready.
    let up_again_at =
        Instant::now() + (due_at - chrono::Utc::now()).to_std().unwrap() + DOWN_PAST_DUE;
    let mut probes = 0;
    while Instant::now() < up_again_at {
        assert!(kakusan.is_running(), "kakusan exited during the outage");
        let (status, _) = get(addr, "/healthz").await.expect("/healthz answers");
        assert_eq!(status, 200);
        let (status, body) = get(addr, "/readyz").await.expect("/readyz answers");
        assert_eq!(status, 503, "{body}");
        probes += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(probes >= 3, "{probes} probes");
    assert_eq!(
        delivered(&sim, &world.destinations),
        0,
        "nothing can be claimed without the database"
    );

    cluster.start_again();
    let pool = PgPool::connect(&cluster.url).await.unwrap();
    let back = Instant::now();
    eventually(
        Duration::from_secs(20),
        "everything queued before the outage delivered",
        async || {
            outbox::pending_jobs(&pool, 100, None)
                .await
                .unwrap()
                .is_empty()
        },
    )
    .await;
    let resumed_in = back.elapsed();
    let expected: Vec<String> = (1..=MESSAGES).map(|n| format!("relay {n}")).collect();
    for (index, destination) in world.destinations.iter().enumerate() {
        assert_eq!(
            live_contents(&sim, destination.channel_id),
            expected,
            "destination {index}: each message once, in order"
        );
    }
    assert!(kakusan.is_running());

    // One line per kind of failure for the whole outage, and one when it is over.
    let lines = kakusan.drain_lines();
    for line in lines
        .iter()
        .filter(|line| !line.contains("\"INFO\"") || line.contains("answers again"))
    {
        println!("outage log: {line}");
    }
    let count = |needle: &str| lines.iter().filter(|line| line.contains(needle)).count();
    assert_eq!(count("cannot claim jobs"), 1, "{lines:#?}");
    assert!(count("cannot read the queue statistics") <= 1, "{lines:#?}");
    assert_eq!(
        count("the database answers again; delivery resumes"),
        1,
        "{lines:#?}"
    );
    println!(
        "outage test: database down {} ms before the jobs were due; {probes} probes during \
         the outage; all delivered {resumed_in:?} after the database was back; took {:?}",
        margin.num_milliseconds(),
        started.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_say_storage_is_unavailable_during_an_outage_and_work_after_it() {
    let cluster = Cluster::start();
    let sim = DiscordSim::start_default().await.unwrap();
    let app = sim.create_application("kakusan");
    let member = sim.create_user("hanako");
    let guild = sim.create_guild("alpha", member).unwrap();
    let channel = sim.create_channel(guild, "times-hanako").unwrap();
    sim.add_bot(guild, app.id, discord_sim::ADMINISTRATOR)
        .unwrap();
    let kakusan = Running::start(&cluster.url, &sim, &app.token);
    sim.wait_for_sessions(app.id, 1, Duration::from_secs(20))
        .await
        .unwrap();
    let sharelist = async || {
        let invocation = discord_sim::CommandInvocation::new(app.id, channel, member, "sharelist");
        let interaction = sim.invoke_command(&invocation).unwrap();
        sim.wait_for_reply(&interaction, Duration::from_secs(20))
            .await
            .unwrap()
            .content
    };
    assert!(sharelist().await.starts_with("Here: no times channel"));

    cluster.stop();
    assert_eq!(
        sharelist().await,
        "Storage unavailable, nothing was lost — try again shortly."
    );

    cluster.start_again();
    eventually(Duration::from_secs(20), "commands work again", async || {
        sharelist().await.starts_with("Here: no times channel")
    })
    .await;

    // Every use counted, the one that met the outage too.
    let (_, metrics) = get(kakusan.addr, "/metrics").await.unwrap();
    let uses = sample(
        &metrics,
        "kakusan_command_uses_total{command=\"sharelist\"}",
    )
    .unwrap();
    assert!(uses >= 3.0, "{uses}");
    assert_eq!(
        sample(&metrics, "kakusan_command_uses_total{command=\"here\"}"),
        Some(0.0)
    );
}
