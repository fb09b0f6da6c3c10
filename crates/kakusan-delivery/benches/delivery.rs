//! Measures the delivery engine against the local PostgreSQL and the in-process Discord
//! simulator, in one run, and prints each figure as a ratio to a baseline taken in the same
//! run (the machine is shared and noisy; absolute times say little):
//!
//! - `outbox_throughput_ratio`: jobs/s through enqueue -> claim -> complete, over a bare
//!   INSERT + DELETE loop with the same payload on the same database;
//! - `ceiling_utilisation`: the shortest time the simulator's rate limits allow for 100
//!   destinations, over the time the engine took (and the share of answers that were 429);
//! - `coalescing_call_ratio`: calls made for a storm of 1 send + 20 edits per message, over one
//!   call per job;
//! - `latency_overhead_p99`: p99 from enqueue to the message at Discord, over the p99 of a
//!   direct webhook call, both with 50 ms of simulated Discord latency.
//!
//! Run it with `cargo bench -p kakusan-delivery --bench delivery`.

use std::time::{Duration, Instant};

use discord_sim::{Fault, FaultAction, Limit, RateLimitConfig};
use kakusan_delivery::{DeliveryConfig, EditPayload, SendPayload, enqueue_edit, enqueue_send};
use kakusan_storage::outbox::{self, NewJob, Operation, Target};
use kakusan_storage::{PgPool, copies};
use kakusan_testkit::TestDatabase;
use kakusan_testkit::delivery::Harness;
use twilight_model::id::Id;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let database = TestDatabase::create().await;
    let pool = PgPool::connect(&database.url).await.unwrap();
    kakusan_storage::migrate(&pool).await.unwrap();

    outbox_throughput(&pool).await;
    reset(&pool).await;
    ceiling_utilisation(pool.clone()).await;
    reset(&pool).await;
    coalescing(pool.clone()).await;
    reset(&pool).await;
    latency_overhead(pool.clone()).await;

    pool.close().await;
}

/// Empties the tables between measurements.
async fn reset(pool: &PgPool) {
    sqlx::raw_sql("TRUNCATE servers, command_usage CASCADE")
        .execute(pool)
        .await
        .unwrap();
}

fn payload() -> serde_json::Value {
    serde_json::json!({
        "content": "x".repeat(300),
        "username": "Hanako (alpha)",
        "avatar_url": "https://cdn.discordapp.com/avatars/1/a.png",
    })
}

async fn outbox_throughput(pool: &PgPool) {
    const JOBS: usize = 2_000;
    const LANES: u64 = 64;
    const ROUNDS: usize = 3;
    // A destination to hang the jobs on; the lanes are what matter to claiming.
    let h = Harness::start(pool.clone(), 1, DeliveryConfig::default()).await;
    let destination = h.destinations[0].id;
    h.stop().await;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS bench_bare (id BIGSERIAL PRIMARY KEY, payload JSONB NOT NULL)",
    )
    .execute(pool)
    .await
    .unwrap();
    let payload = payload();
    let (mut outbox_time, mut bare_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for n in 0..JOBS as u64 {
            let job = NewJob {
                server_guild_id: 100,
                lane: n % LANES,
                target: Target::Destination(destination),
                operation: Operation::Send,
                source_message_id: Some(n),
                relay_id: None,
                member_id: Some(7),
                payload: &payload,
                scheduled_for: None,
            };
            outbox::enqueue(pool, &job).await.unwrap();
        }
        let mut done = 0;
        while done < JOBS {
            let jobs = outbox::claim(pool, "bench", Duration::from_secs(60), LANES as i64)
                .await
                .unwrap();
            for job in jobs {
                assert!(outbox::complete(pool, job.id, "bench").await.unwrap());
                done += 1;
            }
        }
        outbox_time += started.elapsed();

        let started = Instant::now();
        for _ in 0..JOBS {
            let id: i64 =
                sqlx::query_scalar("INSERT INTO bench_bare (payload) VALUES ($1) RETURNING id")
                    .bind(&payload)
                    .fetch_one(pool)
                    .await
                    .unwrap();
            sqlx::query("DELETE FROM bench_bare WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        }
        bare_time += started.elapsed();
    }
    let jobs = (JOBS * ROUNDS) as f64;
    let outbox_rate = jobs / outbox_time.as_secs_f64();
    let bare_rate = jobs / bare_time.as_secs_f64();
    println!(
        "outbox_throughput_ratio: {:.2} (goal: >= 0.5)",
        outbox_rate / bare_rate
    );
    println!(
        "  outbox {outbox_rate:.0} jobs/s; bare INSERT + DELETE {bare_rate:.0} rows/s; {ROUNDS} alternating rounds of {JOBS}"
    );
}

async fn ceiling_utilisation(pool: PgPool) {
    const DESTINATIONS: usize = 100;
    const PER_DESTINATION: u64 = 20;
    let h = Harness::start(pool, DESTINATIONS, DeliveryConfig::default()).await;
    let limit = RateLimitConfig::default().webhook;
    h.sim.clear_calls();
    // One transaction: every job becomes visible at once, so enqueueing does not pace the
    // engine.
    let mut tx = h.pool.begin().await.unwrap();
    for source in 1..=PER_DESTINATION {
        for dest in 0..DESTINATIONS {
            let payload = SendPayload {
                content: format!("m{source}"),
                username: "Hanako (alpha)".into(),
                avatar_url: None,
                attachments: Vec::new(),
            };
            enqueue_send(&mut tx, &h.job(dest, source), &payload, None)
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
    h.wait_drained().await;
    let calls = h.sim.calls();
    let webhook_calls: Vec<_> = calls
        .iter()
        .filter(|call| call.path.contains("/webhooks/"))
        .collect();
    let first = webhook_calls.iter().map(|call| call.at_ms).min().unwrap();
    let last = webhook_calls.iter().map(|call| call.at_ms).max().unwrap();
    let limited = webhook_calls
        .iter()
        .filter(|call| call.status == 429)
        .count();
    // Per webhook, `requests` calls per window; the last batch starts after (batches - 1) windows.
    let batches = PER_DESTINATION.div_ceil(u64::from(limit.requests));
    let ceiling = limit.window * (batches as u32 - 1);
    let actual = Duration::from_millis(last - first);
    let delivered = DESTINATIONS as u64 * PER_DESTINATION;
    println!(
        "ceiling_utilisation: {:.2} (goal: >= 0.9, with 429s under 1% of calls)",
        ceiling.as_secs_f64() / actual.as_secs_f64()
    );
    println!(
        "  {delivered} messages to {DESTINATIONS} webhooks limited to {} per {:?}: shortest possible {ceiling:?}, took {actual:?}; \
         429s {limited} of {} calls ({:.2}%)",
        limit.requests,
        limit.window,
        webhook_calls.len(),
        100.0 * limited as f64 / webhook_calls.len() as f64
    );
    h.stop().await;
}

async fn coalescing(pool: PgPool) {
    const MESSAGES: u64 = 20;
    const EDITS: u64 = 20;
    let h = Harness::start(pool, 1, DeliveryConfig::default()).await;
    h.sim.set_rate_limits(RateLimitConfig {
        webhook: Limit::new(1000, Duration::from_secs(1)),
        ..RateLimitConfig::default()
    });
    let mut connection = h.pool.acquire().await.unwrap();
    for source in 1..=MESSAGES {
        h.send(0, source, "draft").await;
        for edit in 1..=EDITS {
            let payload = EditPayload {
                content: format!("edit {edit}"),
            };
            enqueue_edit(
                &mut connection,
                &h.job(0, source),
                &payload,
                Duration::from_millis(500),
            )
            .await
            .unwrap();
        }
    }
    h.wait_drained().await;
    for source in 1..=MESSAGES {
        let copy = copies::copy_of(&h.pool, h.destinations[0].id, source)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            h.sim.message(copy).unwrap().content,
            format!("edit {EDITS}"),
            "the last edit wins"
        );
    }
    let calls = h
        .sim
        .calls()
        .iter()
        .filter(|call| call.path.contains("/webhooks/"))
        .count();
    let jobs = MESSAGES * (1 + EDITS);
    println!(
        "coalescing_call_ratio: {:.3} (goal: <= 0.1)",
        calls as f64 / jobs as f64
    );
    println!(
        "  {calls} calls for {jobs} jobs ({MESSAGES} messages, each 1 send + {EDITS} edits, edits held 500 ms)"
    );
    h.stop().await;
}

async fn latency_overhead(pool: PgPool) {
    const SAMPLES: usize = 200;
    let h = Harness::start(pool, 1, DeliveryConfig::default()).await;
    h.sim.set_rate_limits(RateLimitConfig {
        webhook: Limit::new(100_000, Duration::from_secs(1)),
        ..RateLimitConfig::default()
    });
    h.sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: "/webhooks/**".into(),
        action: FaultAction::Latency(Duration::from_millis(50)),
        times: None,
    });
    let webhook = h.sim.webhooks(h.destinations[0].channel_id).remove(0);
    let token = webhook.token.clone();
    let direct = twilight_http::Client::builder()
        .proxy(h.sim.proxy_host(), true)
        .build();
    let channel = h.destinations[0].channel_id;
    let (mut through_engine, mut direct_calls) = (Vec::new(), Vec::new());
    for n in 0..SAMPLES as u64 {
        let started = Instant::now();
        direct
            .execute_webhook(Id::new(webhook.id), &token)
            .content("direct")
            .wait()
            .await
            .unwrap();
        direct_calls.push(started.elapsed());

        let marker = format!("relay {n}");
        let started = Instant::now();
        h.send(0, n + 1, &marker).await;
        h.sim
            .wait_for_message(channel, Duration::from_secs(30), |message| {
                message.content == marker
            })
            .await
            .unwrap();
        through_engine.push(started.elapsed());
    }
    let (engine_p99, direct_p99) = (
        percentile(&mut through_engine, 99),
        percentile(&mut direct_calls, 99),
    );
    let (engine_p50, direct_p50) = (
        percentile(&mut through_engine, 50),
        percentile(&mut direct_calls, 50),
    );
    println!(
        "latency_overhead_p99: {:.2} (goal: <= 1.3)",
        engine_p99.as_secs_f64() / direct_p99.as_secs_f64()
    );
    println!(
        "  p99 enqueue -> message at Discord {engine_p99:?}, direct call {direct_p99:?}; \
         p50 {engine_p50:?} and {direct_p50:?}; {SAMPLES} alternating samples, 50 ms simulated latency"
    );
    h.stop().await;
}

/// The `pct`-th percentile (nearest rank) of the samples.
fn percentile(samples: &mut [Duration], pct: usize) -> Duration {
    samples.sort();
    samples[(samples.len() * pct / 100).min(samples.len() - 1)]
}
