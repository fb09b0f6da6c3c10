//! `/metrics`, `/healthz` and `/readyz` of a running kakusan.

use std::time::{Duration, Instant};

use discord_sim::{DiscordSim, Fault, FaultAction};
use kakusan_storage::{PgPool, outbox};
use kakusan_testkit::delivery::World;
use kakusan_testkit::endpoint::{get, sample};
use kakusan_testkit::{Cluster, eventually};

use crate::{KAKUSAN, Running, fan_out};

const DESTINATIONS: usize = 3;
const MESSAGES: u64 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_deliveries_and_readiness_follows_the_database() {
    let started = Instant::now();
    let cluster = Cluster::start();
    let pool = PgPool::connect(&cluster.url).await.unwrap();
    kakusan_storage::migrate(&pool).await.unwrap();
    let sim = DiscordSim::start_default().await.unwrap();
    let world = World::build(&pool, &sim, DESTINATIONS).await;
    // The first webhook call is answered 429; twilight-http waits it out and sends again.
    sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: "/webhooks/*/*".into(),
        action: FaultAction::RateLimit {
            retry_after: Duration::from_millis(200),
            scope: "user".into(),
        },
        times: Some(1),
    });

    let mut kakusan = Running::start(&cluster.url, &sim, &world.token);
    let addr = kakusan.addr;
    let (status, body) = get(addr, "/healthz").await.unwrap();
    assert_eq!((status, body.trim()), (200, "ok"));
    eventually(Duration::from_secs(10), "/readyz says ready", async || {
        get(addr, "/readyz").await.map(|(status, _)| status) == Some(200)
    })
    .await;

    // Every family is described from the start, with zeroes where the labels are known.
    let (status, before) = get(addr, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    for family in [
        "kakusan_deliveries_total",
        "kakusan_webhook_rate_limited_total",
        "kakusan_command_uses_total",
        "kakusan_envelopes_received_total",
        "kakusan_envelopes_rejected_total",
        "kakusan_gateway_shards_connected",
    ] {
        assert!(
            before.contains(&format!("# HELP {family} ")),
            "{family} is described:\n{before}"
        );
    }
    let delivered = r#"kakusan_deliveries_total{operation="send",outcome="delivered"}"#;
    assert_eq!(sample(&before, delivered), Some(0.0), "{before}");
    assert_eq!(
        sample(&before, r#"kakusan_command_uses_total{command="here"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &before,
            r#"kakusan_envelopes_rejected_total{reason="replayed"}"#
        ),
        Some(0.0)
    );

    fan_out(&pool, &world.destinations, MESSAGES, None).await;
    let jobs = DESTINATIONS as f64 * MESSAGES as f64;
    eventually(Duration::from_secs(15), "every job delivered", async || {
        outbox::pending_jobs(&pool, 100, None)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let mut after = String::new();
    eventually(
        Duration::from_secs(10),
        "the metrics show the deliveries and an empty queue",
        async || {
            after = get(addr, "/metrics").await.unwrap().1;
            sample(&after, delivered) == Some(jobs)
                && sample(&after, "kakusan_queue_depth") == Some(0.0)
        },
    )
    .await;
    assert_eq!(
        sample(&after, r#"kakusan_webhook_calls_total{status="200"}"#),
        Some(jobs),
        "{after}"
    );
    assert_eq!(
        sample(&after, "kakusan_webhook_rate_limited_total"),
        Some(1.0),
        "the forced 429 is seen: {after}"
    );
    assert_eq!(
        sample(&after, "kakusan_queue_oldest_pending_seconds"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &after,
            r#"kakusan_deliveries_total{operation="send",outcome="retry"}"#
        ),
        Some(0.0),
        "a 429 is not a failure"
    );

    // Without the database kakusan is alive but not ready, and says why; then ready again.
    pool.close().await;
    cluster.stop();
    let (status, body) = get(addr, "/readyz").await.unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("database"), "{body}");
    assert!(!body.trim().contains('\n'), "one line: {body}");
    assert_eq!(get(addr, "/healthz").await.unwrap().0, 200);
    cluster.start_again();
    eventually(Duration::from_secs(10), "/readyz ready again", async || {
        get(addr, "/readyz").await.map(|(status, _)| status) == Some(200)
    })
    .await;
    assert!(kakusan.is_running());
    sim.shutdown().await;
    println!("endpoint test took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_port_in_use_is_one_line_naming_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = KAKUSAN
        .command(&dir)
        .arg("run")
        .env("DISCORD_TOKEN", "token")
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/unreachable",
        )
        .env("KAKUSAN_HTTP_ADDR", addr.to_string())
        .env("KAKUSAN_LOG", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: KAKUSAN_HTTP_ADDR {addr} cannot be used")),
        "{stderr}"
    );
}
