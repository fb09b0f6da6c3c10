//! Measures scale-out against `kakusan run` in one run, with real processes, the local
//! PostgreSQL, NATS on 127.0.0.1:4222 and the in-process Discord simulator, and prints each
//! figure beside its baseline (the machine is shared and noisy; ratios say more than times):
//!
//! - `nats_event_overhead_p99`: the p99 of an interaction's round trip (the command sent ->
//!   its reply settled at Discord) through gateway -> NATS -> worker, over the same in `run`;
//! - `events_per_second`: interactions per second through gateway -> NATS -> 2 workers, for a
//!   burst of commands sent at once, beside `run`'s in-process figure for the same burst;
//! - `worker_scaling_2x`: that rate with 2 workers over 1 worker (the same deployment, one
//!   worker killed, then started again; both measured warm).
//!
//! The interaction is `/serverlist`: a permission check, a query and a deferred answer edited
//! in, the shape of most commands. Run it with `cargo bench -p kakusan --bench scale_out`.

use std::time::{Duration, Instant};

use discord_sim::InteractionRef;
use kakusan_testkit::PATIENCE;
use kakusan_testkit::federation::{Deployment, Federation, Scale};
use kakusan_testkit::process::Binary;

const KAKUSAN: Binary = Binary::new(env!("CARGO_BIN_EXE_kakusan"));

/// Round trips timed one after another.
const SAMPLES: usize = 200;
/// Commands sent at once for a rate (Discord's 3-second window must hold for all of them).
const BURST: usize = 40;
/// Bursts per rate, the best one counted (the least disturbed by the neighbours' load).
const ROUNDS: usize = 3;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let run = Federation::peered(KAKUSAN, false).await;
    let (run_median, run_p99) = round_trips(&run).await;
    let run_rate = rate(&run).await;
    drop(run);

    let mut scaled = Federation::peered_scaled(
        KAKUSAN,
        false,
        Scale {
            gateways: 1,
            workers: 2,
            shards: 1,
        },
    )
    .await;
    let (nats_median, nats_p99) = round_trips(&scaled).await;
    // One worker, then two again: both measured warm.
    scaled.alpha.kill_worker(1);
    scaled.alpha.wait_lanes_held().await;
    let one_worker = rate(&scaled).await;
    scaled.alpha.start_worker(1);
    scaled.alpha.wait_lanes_held().await;
    let two_workers = rate(&scaled).await;

    println!("run_round_trip_median_ms: {:.1}", ms(run_median));
    println!("run_round_trip_p99_ms: {:.1}", ms(run_p99));
    println!("nats_round_trip_median_ms: {:.1}", ms(nats_median));
    println!("nats_round_trip_p99_ms: {:.1}", ms(nats_p99));
    println!(
        "nats_event_overhead_p99: {:.2}",
        nats_p99.as_secs_f64() / run_p99.as_secs_f64()
    );
    println!("run_events_per_second: {run_rate:.1}");
    println!("events_per_second: {two_workers:.1}");
    println!("events_per_second_1_worker: {one_worker:.1}");
    println!("worker_scaling_2x: {:.2}", two_workers / one_worker);
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn serverlist(federation: &Federation) -> InteractionRef {
    let alpha: &Deployment = &federation.alpha;
    alpha.start_command(
        &federation.sim,
        alpha.times,
        federation.hanako,
        "serverlist",
        vec![],
        false,
    )
}

/// The median and p99 of [`SAMPLES`] round trips, one at a time, after a few to warm up.
async fn round_trips(federation: &Federation) -> (Duration, Duration) {
    for _ in 0..5 {
        let interaction = serverlist(federation);
        federation
            .sim
            .wait_for_reply(&interaction, PATIENCE)
            .await
            .unwrap();
    }
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let interaction = serverlist(federation);
        federation
            .sim
            .wait_for_reply(&interaction, PATIENCE)
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    (times[SAMPLES / 2], times[(SAMPLES * 99).div_ceil(100) - 1])
}

/// Interactions per second for a burst of [`BURST`] sent at once, the best of [`ROUNDS`].
async fn rate(federation: &Federation) -> f64 {
    let mut best = 0.0_f64;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let interactions: Vec<InteractionRef> =
            (0..BURST).map(|_| serverlist(federation)).collect();
        // They are handled concurrently; waiting for each in turn ends with the last. One the
        // machine's load kept past Discord's 3-second window is never answered: counted out.
        let mut answered = 0;
        for interaction in &interactions {
            if federation
                .sim
                .wait_for_reply(interaction, Duration::from_secs(5))
                .await
                .is_ok()
            {
                answered += 1;
            }
        }
        if answered < BURST {
            println!("unanswered_in_burst: {}", BURST - answered);
        }
        best = best.max(answered as f64 / started.elapsed().as_secs_f64());
    }
    best
}
