//! The metric families of the whole deployment, described in one place, and the queue gauges.
//!
//! Library crates record through the `metrics` facade macros under the names listed here; this
//! module installs the Prometheus recorder, describes every family, and registers zero values
//! where the labels are known in advance, so a dashboard or an alert finds each family from
//! the first scrape instead of only after the first event.

use std::time::Duration;

use anyhow::Context;
use kakusan_protocol::{Kind, Rejection};
use kakusan_storage::{PgPool, outbox};
use metrics::{Unit, counter, describe_counter, describe_gauge, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

/// Deliveries by job operation and outcome (`kakusan-delivery`'s worker).
pub(crate) const DELIVERIES: &str = "kakusan_deliveries_total";
/// Webhook calls by HTTP status, or `error` when no answer came (the delivery worker).
pub(crate) const WEBHOOK_CALLS: &str = "kakusan_webhook_calls_total";
/// 429 answers to webhook calls, which twilight-http waits out and retries by itself.
pub(crate) const WEBHOOK_RATE_LIMITED: &str = "kakusan_webhook_rate_limited_total";
/// Jobs waiting in the outbox (this module).
pub(crate) const QUEUE_DEPTH: &str = "kakusan_queue_depth";
/// Jobs held by their members' `/pause` (this module).
pub(crate) const QUEUE_PAUSED: &str = "kakusan_queue_paused";
/// Age of the oldest due job (this module).
pub(crate) const QUEUE_OLDEST: &str = "kakusan_queue_oldest_pending_seconds";
/// Slash command uses by command (`kakusan-commands`).
pub(crate) const COMMAND_USES: &str = "kakusan_command_uses_total";
/// Verified envelopes by kind (`kakusan-commands`).
pub(crate) const ENVELOPES_RECEIVED: &str = "kakusan_envelopes_received_total";
/// Rejected envelopes by reason (`kakusan-commands`).
pub(crate) const ENVELOPES_REJECTED: &str = "kakusan_envelopes_rejected_total";
/// Relays of blocked members removed as they arrived or by `/block purge:true`, or dropped
/// before a job was queued (`kakusan-commands`).
pub(crate) const BLOCKED_RELAYS: &str = "kakusan_blocked_relays_total";
/// Hellos not answered with a sync because one went to that peer within 10 minutes
/// (`kakusan-commands`).
pub(crate) const HELLO_SYNCS_SKIPPED: &str = "kakusan_hello_syncs_skipped_total";
/// `/ping` and `/pingall` refused because the member used one within 30 s (`kakusan-commands`).
pub(crate) const PING_COOLDOWNS: &str = "kakusan_ping_cooldowns_total";
/// Members who left with `/forget-me` (`kakusan-commands`).
pub(crate) const FORGET_ME: &str = "kakusan_forget_me_total";
/// Peers' `member.forget` requests by outcome (`kakusan-commands`).
pub(crate) const FORGET_REQUESTS: &str = "kakusan_forget_requests_total";
/// Heartbeat round trip per shard (`kakusan-gateway`).
pub(crate) const GATEWAY_LATENCY: &str = "kakusan_gateway_latency_seconds";
/// Reconnects per shard (`kakusan-gateway`).
pub(crate) const GATEWAY_RECONNECTS: &str = "kakusan_gateway_reconnects_total";
/// Shards connected now (`kakusan-gateway`).
pub(crate) const GATEWAY_SHARDS_CONNECTED: &str = "kakusan_gateway_shards_connected";

/// Events a `kakusan gateway` published, by kind and outcome (`stored`, `duplicate`).
pub(crate) const EVENTS_PUBLISHED: &str = "kakusan_bus_events_published_total";
/// Failed tries to publish an event (`kakusan gateway`; it tries again until NATS answers).
pub(crate) const PUBLISH_FAILURES: &str = "kakusan_bus_publish_failures_total";
/// Events a `kakusan worker` settled, by kind and outcome.
pub(crate) const WORKER_EVENTS: &str = "kakusan_worker_events_total";
/// Events a `kakusan worker` gave up and moved to the dead-letter stream.
pub(crate) const DEAD_LETTERS: &str = "kakusan_worker_dead_letters_total";
/// Lanes of the bus this worker holds now.
pub(crate) const LANES_HELD: &str = "kakusan_worker_lanes_held";
/// Whether this worker holds a lane (1) or not (0), by lane (`p0`..`p15`, `ready`).
pub(crate) const LANE_HELD: &str = "kakusan_worker_lane_held";

/// Job operations, as `kakusan_storage::outbox::Operation::as_str` names them.
const OPERATIONS: [&str; 5] = ["send", "edit", "delete", "envelope", "delete_webhook"];
/// Delivery outcomes, as the delivery worker labels them.
const OUTCOMES: [&str; 5] = ["delivered", "retry", "failed", "broken", "gone"];

/// How often the queue gauges are refreshed.
const QUEUE_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide Prometheus recorder and describes every family.
pub(crate) fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    describe();
    register_zeroes();
    Ok(handle)
}

fn describe() {
    describe_counter!(
        DELIVERIES,
        "Outbox jobs finished or rescheduled, by operation (send, edit, delete, envelope) and \
         outcome: delivered; retry (transient failure, rescheduled); failed (this job can never \
         succeed); broken (the destination's webhook is gone or refused); gone (nothing to do: \
         the destination, peer or copy no longer exists)"
    );
    describe_counter!(
        WEBHOOK_CALLS,
        "Webhook calls of the delivery engine by final HTTP status, or `error` when no answer \
         came (connection failure, time-out)"
    );
    describe_counter!(
        WEBHOOK_RATE_LIMITED,
        "429 answers to webhook calls; twilight-http waits them out and retries, so they are \
         not failures"
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Jobs waiting in the outbox, due or scheduled (failed and paused jobs excluded)"
    );
    describe_gauge!(
        QUEUE_PAUSED,
        "Jobs held back by their members' /pause until they /resume"
    );
    describe_gauge!(
        QUEUE_OLDEST,
        Unit::Seconds,
        "How long the oldest due job has been waiting; 0 when none is due"
    );
    describe_counter!(COMMAND_USES, "Slash command uses, by command");
    describe_counter!(
        ENVELOPES_RECEIVED,
        "Envelopes from peers that passed verification, by kind"
    );
    describe_counter!(
        ENVELOPES_REJECTED,
        "Envelopes rejected by verification, by reason"
    );
    describe_counter!(
        HELLO_SYNCS_SKIPPED,
        "Hellos from mutual peers not answered with a times.sync, because one went to that peer \
         in answer to a hello within the last 10 minutes"
    );
    describe_counter!(
        BLOCKED_RELAYS,
        "Relays from blocked members: removed from their times here on arrival or by /block \
         purge:true, or dropped before a job was queued (for a server of this deployment)"
    );
    describe_counter!(
        PING_COOLDOWNS,
        "/ping and /pingall refused because the member ran one within the last 30 seconds"
    );
    describe_counter!(
        FORGET_ME,
        "Members who confirmed /forget-me (their data here erased, every mutual peer asked)"
    );
    describe_counter!(
        FORGET_REQUESTS,
        "member.forget requests from peers, by outcome: forgotten (the member's times that peer \
         announced, and the copies relayed into them, are being deleted) or nothing_held (we \
         held nothing of that member from that peer)"
    );
    describe_gauge!(
        GATEWAY_LATENCY,
        Unit::Seconds,
        "The latest heartbeat round trip, by shard"
    );
    describe_counter!(GATEWAY_RECONNECTS, "Gateway reconnects, by shard");
    describe_counter!(
        EVENTS_PUBLISHED,
        "Gateway events published to NATS, by kind and outcome (stored, duplicate)"
    );
    describe_counter!(
        PUBLISH_FAILURES,
        "Failed tries to publish a gateway event to NATS (tried again until NATS answers)"
    );
    describe_counter!(
        WORKER_EVENTS,
        "Events a worker settled, by kind and outcome (handled, duplicate, retry, failed, dead)"
    );
    describe_counter!(
        DEAD_LETTERS,
        "Events a worker gave up after repeated failures and moved to the dead-letter stream"
    );
    describe_gauge!(LANES_HELD, "Lanes of the NATS stream this worker holds");
    describe_gauge!(
        LANE_HELD,
        "Whether this worker holds a lane of the NATS stream (1) or not (0), by lane"
    );
    describe_gauge!(
        GATEWAY_SHARDS_CONNECTED,
        "Shards connected to the gateway now"
    );
}

/// Registers every series whose labels are known now with the value zero. Series labelled by
/// shard appear when the gateway knows its shards; webhook calls by status with the first call.
fn register_zeroes() {
    counter!(PUBLISH_FAILURES).absolute(0);
    counter!(DEAD_LETTERS).absolute(0);
    for operation in OPERATIONS {
        for outcome in OUTCOMES {
            counter!(DELIVERIES, "operation" => operation, "outcome" => outcome).absolute(0);
        }
    }
    counter!(WEBHOOK_RATE_LIMITED).absolute(0);
    for command in kakusan_commands::model::definitions() {
        counter!(COMMAND_USES, "command" => command.name).absolute(0);
    }
    for kind in Kind::ALL {
        counter!(ENVELOPES_RECEIVED, "kind" => kind.as_str()).absolute(0);
    }
    for reason in Rejection::LABELS {
        counter!(ENVELOPES_REJECTED, "reason" => reason).absolute(0);
    }
    counter!(HELLO_SYNCS_SKIPPED).absolute(0);
    counter!(PING_COOLDOWNS).absolute(0);
    counter!(FORGET_ME).absolute(0);
    for outcome in ["forgotten", "nothing_held"] {
        counter!(FORGET_REQUESTS, "outcome" => outcome).absolute(0);
    }
    for when in ["arrival", "purge", "dropped"] {
        counter!(BLOCKED_RELAYS, "when" => when).absolute(0);
    }
    gauge!(GATEWAY_SHARDS_CONNECTED).set(0.0);
}

/// Sets the queue gauges now and every few seconds until `shutdown`.
///
/// While the database is unreachable the gauges keep their last values (a scrape cannot tell
/// "no jobs" from "no answer" otherwise; `/readyz` says the database is down) and one line is
/// logged per outage, not one per attempt. The recorder's upkeep runs here too, since nothing
/// else drives it without the exporter's own HTTP server.
pub(crate) async fn watch_queue(
    pool: PgPool,
    handle: PrometheusHandle,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(QUEUE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut down = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        handle.run_upkeep();
        match outbox::queue_stats(&pool).await {
            Ok(stats) => {
                if down {
                    tracing::info!("queue statistics readable again");
                    down = false;
                }
                gauge!(QUEUE_DEPTH).set((stats.due + stats.scheduled) as f64);
                gauge!(QUEUE_PAUSED).set(stats.paused as f64);
                gauge!(QUEUE_OLDEST).set(stats.oldest_due_age_seconds.unwrap_or(0.0));
            }
            Err(error) if !down => {
                down = true;
                tracing::warn!(
                    error = %format!("{:#}", anyhow::Error::new(error)),
                    "cannot read the queue statistics; the queue gauges keep their last values"
                );
            }
            Err(_) => {}
        }
    }
}
