//! Measures what one federated announcement costs the CPU: seal a webhook URL, sign the
//! envelope, verify it on the receiving side and open the sealed URL. It prints the cost per
//! envelope and the share of one core that Discord's ceiling of 50 requests per second would
//! take, so the figure can be compared across machines without a timing threshold.

use chrono::{TimeZone as _, Utc};
use kakusan_protocol::rand_core::OsRng;
use kakusan_protocol::{
    Body, DisplayName, Envelope, MemoryReplayGuard, Registration, SealedSecret, SealingSecret,
    ServerKeys, ServerName, SigningSecret, Snowflake, Verifier, WebhookPolicy, WebhookUrl,
};
use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Discord's global ceiling for one bot, which bounds how many envelopes a server can send.
const REQUESTS_PER_SECOND: f64 = 50.0;
const ITERATIONS: u32 = 2_000;

/// The in-memory replay guard never waits, so one poll finishes verification.
fn run_now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("verification waited although nothing can be pending"),
    }
}

fn per_iteration(total: Duration) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(ITERATIONS)
}

fn main() {
    let alpha = ServerName::parse("alpha").unwrap();
    let beta = ServerName::parse("beta").unwrap();
    let alpha_keys = ServerKeys::new(
        SigningSecret::from_seed([1; 32]),
        SealingSecret::from_bytes([2; 32]),
    );
    let beta_keys = ServerKeys::new(
        SigningSecret::from_seed([3; 32]),
        SealingSecret::from_bytes([4; 32]),
    );
    let policy = WebhookPolicy::discord();
    let url = format!(
        "https://discord.com/api/webhooks/1300000000000000001/{}",
        "T".repeat(68)
    );
    let url = WebhookUrl::parse(&url, &policy).unwrap();
    let peers = HashMap::from([(alpha.clone(), alpha_keys.verify_key())]);
    let guard = MemoryReplayGuard::default();
    let verifier = Verifier::new(&beta, beta_keys.sealing(), &peers, &guard);
    let now = Utc.with_ymd_and_hms(2027, 1, 15, 8, 0, 0).unwrap();
    let rng = &mut OsRng;

    let (mut seal, mut sign, mut verify, mut open) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut bytes = 0;
    for i in 0..ITERATIONS {
        let started = Instant::now();
        let hook = SealedSecret::seal_webhook(&beta_keys.sealing_key(), &url, rng).unwrap();
        let sealed = Instant::now();
        let registration = Registration {
            member: Snowflake::new(400_000_000_000_000_000 + u64::from(i)).unwrap(),
            name: DisplayName::parse("みどり").unwrap(),
            channel: Snowflake::new(900_000_000_000_000_001).unwrap(),
            thread: None,
            hook,
        };
        let envelope = Envelope::new(
            alpha.clone(),
            beta.clone(),
            Body::TimesAnnounce(registration),
            now,
            rng,
        );
        let wire = envelope.sign(alpha_keys.signing()).unwrap();
        let signed = Instant::now();
        let verified = run_now(verifier.verify(wire.as_str(), now)).unwrap();
        let checked = Instant::now();
        let Body::TimesAnnounce(received) = verified.envelope().body() else {
            unreachable!("the body was an announcement when it was signed")
        };
        let opened = received
            .hook
            .open_webhook(beta_keys.sealing(), &policy)
            .unwrap();
        let done = Instant::now();
        black_box(opened);
        bytes += wire.len();
        seal += sealed - started;
        sign += signed - sealed;
        verify += checked - signed;
        open += done - checked;
    }

    let total = per_iteration(seal + sign + verify + open);
    let share = total * REQUESTS_PER_SECOND / 1e6 * 100.0;
    println!(
        "envelopes measured: {ITERATIONS} (times.announce, {} bytes each on average)",
        bytes / ITERATIONS as usize
    );
    println!("seal_webhook: {:.1} µs", per_iteration(seal));
    println!("build_and_sign: {:.1} µs", per_iteration(sign));
    println!(
        "verify (size, parse, peer, signature, body, dst, time, replay, ttl): {:.1} µs",
        per_iteration(verify)
    );
    println!("open_webhook: {:.1} µs", per_iteration(open));
    println!(
        "sign_seal_verify_open_per_envelope: {total:.1} µs; share of one core at {REQUESTS_PER_SECOND:.0} req/s: {share:.2}%"
    );
}
