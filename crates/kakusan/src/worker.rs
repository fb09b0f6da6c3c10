//! `kakusan worker`: takes lanes of the bus (each through a PostgreSQL advisory lock held on a
//! connection of its own) and runs `kakusan-commands`' handlers on their events, one event of
//! a lane at a time, acknowledging each once its handler finished.
//!
//! **Ownership.** Each worker holds a worker lock (so the workers can count themselves) and at
//! most `ceil(lanes / live workers)` lane locks. A worker that dies drops its connection, its
//! locks free, and the others take its lanes at their next look ([`REBALANCE_EVERY`]); a new
//! worker makes the others give up their surplus lanes (after the event in hand).
//!
//! **Once.** An interaction is claimed in the database before its handler runs, so a
//! redelivered one is acknowledged without a second answer; envelopes have the replay table and
//! mirrored messages their message id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kakusan_bus::{Bus, Delivery, Lane, MAX_DELIVER};
use kakusan_commands::App;
use kakusan_storage::{PgConnection, PgPool, catch_ups, locks};
use serde::de::DeserializeSeed as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use twilight_model::gateway::event::{DispatchEventWithTypeDeserializer, Event};

use crate::metrics::{DEAD_LETTERS, LANE_HELD, LANES_HELD, WORKER_EVENTS};

/// How often a worker counts the live workers and takes or gives up lanes.
const REBALANCE_EVERY: Duration = Duration::from_secs(1);
/// How long an event handed to a worker that went silent waits before another gets it.
pub(crate) const ACK_WAIT: Duration = Duration::from_secs(10);
/// How often a worker says it is still at a long event (well within [`ACK_WAIT`]).
const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// How long one pull request waits for an event.
const PULL_WAIT: Duration = Duration::from_secs(1);
/// How often a message event held by the catch-up gate looks whether it opened.
const GATE_POLL: Duration = Duration::from_millis(200);
/// How long a closed catch-up gate holds the message events at most: longer is a catch-up
/// that will not come (its READY was lost with its gateway).
const GATE_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// The lock namespaces of one gateway group: the workers, and the lanes.
#[derive(Debug, Clone, Copy)]
struct Namespaces {
    workers: i32,
    lanes: i32,
}

impl Namespaces {
    /// Namespaces of their own for `group`, so two groups in one database do not mix.
    fn of(group: &str) -> Self {
        // FNV-1a: stable across builds and processes, unlike the standard hasher.
        let hash = group.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
        // Keep them apart from the IDENTIFY bucket locks and from each other.
        let base = i32::from_ne_bytes((hash & 0x3fff_fffe).to_ne_bytes());
        Self {
            workers: base,
            lanes: base + 1,
        }
    }
}

/// One worker process's handling of the bus.
pub(crate) struct Worker {
    pub(crate) app: Arc<App>,
    pub(crate) bus: Bus,
    pub(crate) pool: PgPool,
    pub(crate) group: String,
}

/// A lane this worker holds: its task and how to stop it.
struct Held {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Worker {
    /// Takes lanes and handles their events until `shutdown`; then finishes the events in
    /// hand and releases the locks.
    ///
    /// # Errors
    ///
    /// When the database gives no connection for the locks at start.
    pub(crate) async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let namespaces = Namespaces::of(&self.group);
        let mut locks_connection = self
            .pool
            .acquire()
            .await
            .map_err(anyhow::Error::new)?
            .detach();
        let slot = take_slot(&mut locks_connection, namespaces.workers).await?;
        tracing::info!(slot, "worker started");
        let worker = Arc::new(self);
        let mut held: HashMap<Lane, Held> = HashMap::new();
        let lanes: Vec<Lane> = Lane::all().collect();
        loop {
            // A lane whose task ended by itself (its consumer failed) is given back.
            let ended: Vec<Lane> = held
                .iter()
                .filter(|(_, lane)| lane.task.is_finished())
                .map(|(lane, _)| *lane)
                .collect();
            for lane in ended {
                held.remove(&lane);
                release(&mut locks_connection, namespaces, lane).await;
            }
            let target = match locks::held(&worker.pool, namespaces.workers).await {
                Ok(live) => fair_share(lanes.len(), live),
                Err(error) => {
                    tracing::warn!(%error, "cannot count the workers; keeping the lanes held");
                    held.len()
                }
            };
            // Start the search at a different lane in each worker, so they do not all try the
            // same locks first.
            let start = (slot as usize * 7) % lanes.len();
            for lane in lanes.iter().cycle().skip(start).take(lanes.len()) {
                if held.len() >= target {
                    break;
                }
                if held.contains_key(lane) {
                    continue;
                }
                match locks::try_lock(&mut locks_connection, namespaces.lanes, lane_key(*lane))
                    .await
                {
                    Ok(true) => {
                        tracing::info!(%lane, "lane taken");
                        metrics::gauge!(LANE_HELD, "lane" => lane.to_string()).set(1.0);
                        let stop = shutdown.child_token();
                        let task = tokio::spawn(Arc::clone(&worker).lane(*lane, stop.clone()));
                        held.insert(*lane, Held { stop, task });
                    }
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(%error, "cannot take a lane lock");
                        break;
                    }
                }
            }
            while held.len() > target {
                let Some(lane) = held.keys().max().copied() else {
                    break;
                };
                if let Some(lane_held) = held.remove(&lane) {
                    lane_held.stop.cancel();
                    let _ = lane_held.task.await;
                }
                release(&mut locks_connection, namespaces, lane).await;
                tracing::info!(%lane, "lane given up for another worker");
            }
            metrics::gauge!(LANES_HELD).set(held.len() as f64);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(REBALANCE_EVERY) => {}
            }
        }
        for (lane, lane_held) in held.drain() {
            lane_held.stop.cancel();
            let _ = lane_held.task.await;
            release(&mut locks_connection, namespaces, lane).await;
        }
        metrics::gauge!(LANES_HELD).set(0.0);
        Ok(())
    }

    /// Handles `lane`'s events one at a time until `stop`.
    #[tracing::instrument(name = "lane", skip_all, fields(lane = %lane))]
    async fn lane(self: Arc<Self>, lane: Lane, stop: CancellationToken) {
        let consumer = match self.bus.lane(lane, ACK_WAIT).await {
            Ok(consumer) => consumer,
            Err(error) => {
                tracing::warn!(%error, "cannot open the lane's consumer");
                return;
            }
        };
        loop {
            let next = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                next = consumer.next(PULL_WAIT) => next,
            };
            match next {
                Ok(Some(delivery)) => self.handle(delivery, &stop).await,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "reading the lane failed");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(PULL_WAIT) => {}
                    }
                }
            }
        }
    }

    /// Handles one event and settles it with the bus: acknowledged when handled (or when it
    /// was an interaction already taken), handed back for another try, or moved to the dead
    /// letters after [`MAX_DELIVER`] tries.
    async fn handle(&self, delivery: Delivery, stop: &CancellationToken) {
        let event_type = delivery.event_type();
        let event = match decode(&event_type, delivery.payload()) {
            Ok(event) => event,
            Err(error) => {
                // Trying again cannot help: straight to the dead letters.
                self.give_up(delivery, &event_type, &format!("unreadable event: {error}"))
                    .await;
                return;
            }
        };
        let interaction = match &event {
            Event::InteractionCreate(interaction) => Some(interaction.id.get()),
            _ => None,
        };
        let ready_shard = crate::publish::ready_shard(&event);
        if App::waits_for_catch_up(&event) && !self.wait_for_catch_up(&delivery, stop).await {
            // The lane stops: the event goes back to it, for whoever takes the lane next.
            settle(delivery.retry(Duration::ZERO).await);
            return;
        }
        if let Some(id) = interaction {
            match kakusan_storage::handled::claim_interaction(&self.pool, id).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(
                        interaction = id,
                        "interaction already taken; not answered again"
                    );
                    count(&event_type, "duplicate");
                    settle(delivery.ack().await);
                    return;
                }
                // The server stops handing out an event after its last try, so that one goes to
                // the dead letters rather than nowhere.
                Err(error) if delivery.attempts() >= MAX_DELIVER => {
                    let why = format!("cannot record the interaction: {error}");
                    self.give_up(delivery, &event_type, &why).await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot record the interaction; trying again");
                    settle(delivery.retry(Duration::from_secs(1)).await);
                    return;
                }
            }
        }
        let outcome = self.run_handler(&delivery, event).await;
        if let Some(shard) = ready_shard
            && (outcome.is_ok() || delivery.attempts() >= MAX_DELIVER)
        {
            // The catch-up is done (or given up): the message events go on.
            if let Err(error) = catch_ups::open(&self.pool, shard).await {
                tracing::warn!(%error, shard, "cannot open the catch-up gate; it opens by age");
            }
        }
        match outcome {
            Ok(()) => {
                count(&event_type, "handled");
                settle(delivery.ack().await);
            }
            // The member already got a sentence, and the interaction is claimed: trying it
            // again could only fail (Discord's window is gone), so it is done.
            Err(error) if interaction.is_some() => {
                tracing::error!(error = %format_args!("{error:#}"), "interaction handler failed");
                count(&event_type, "failed");
                settle(delivery.ack().await);
            }
            Err(error) if delivery.attempts() >= MAX_DELIVER => {
                self.give_up(delivery, &event_type, &format!("{error:#}"))
                    .await;
            }
            Err(error) => {
                let attempts = delivery.attempts();
                tracing::warn!(error = %format_args!("{error:#}"), attempts, "event handler failed; trying again");
                count(&event_type, "retry");
                let delay = Duration::from_secs(1 << attempts.clamp(0, 5));
                settle(delivery.retry(delay).await);
            }
        }
    }

    /// Holds a message event while a new session's catch-up (another worker's READY) is to come
    /// or running, as `run`'s in-process gate does: a post made while no session was connected
    /// is then relayed by the catch-up, in order, and the live event finds it read. Returns
    /// `false` when the lane stops meanwhile. A gate that cannot be read does not hold.
    async fn wait_for_catch_up(&self, delivery: &Delivery, stop: &CancellationToken) -> bool {
        let mut last_progress = tokio::time::Instant::now();
        let mut logged = false;
        loop {
            match catch_ups::any_closed(&self.pool, GATE_MAX_AGE).await {
                Ok(false) => return true,
                Ok(true) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot read the catch-up gate; not waiting");
                    return true;
                }
            }
            if !logged {
                tracing::info!("a message event waits for a new session's catch-up");
                logged = true;
            }
            tokio::select! {
                () = stop.cancelled() => return false,
                () = tokio::time::sleep(GATE_POLL) => {}
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = tokio::time::Instant::now();
                if let Err(error) = delivery.in_progress().await {
                    tracing::warn!(%error, "cannot extend the event's ack wait");
                }
            }
        }
    }

    /// Runs the handler, telling the bus every few seconds that the event is in hand; a panic
    /// is an error like any other.
    async fn run_handler(&self, delivery: &Delivery, event: Event) -> anyhow::Result<()> {
        // In a task of its own, so that a panic comes back as an error of the join.
        let mut handler = tokio::spawn(self.app.handle(event));
        loop {
            tokio::select! {
                outcome = &mut handler => {
                    return outcome.unwrap_or_else(|join| Err(anyhow::anyhow!("the handler panicked: {join}")));
                }
                () = tokio::time::sleep(PROGRESS_EVERY) => {
                    if let Err(error) = delivery.in_progress().await {
                        tracing::warn!(%error, "cannot extend the event's ack wait");
                    }
                }
            }
        }
    }

    async fn give_up(&self, delivery: Delivery, event_type: &str, error: &str) {
        tracing::error!(
            error,
            event_type,
            "event given up; moved to the dead letters"
        );
        metrics::counter!(DEAD_LETTERS).increment(1);
        count(event_type, "dead");
        if let Err(error) = self.bus.dead_letter(delivery, error).await {
            tracing::error!(%error, "cannot store the dead letter; the event stays in its lane");
        }
    }
}

/// The twilight event of a dispatch the gateway published.
pub(crate) fn decode(event_type: &str, payload: &[u8]) -> Result<Event, serde_json::Error> {
    let mut json = serde_json::Deserializer::from_slice(payload);
    let dispatch = DispatchEventWithTypeDeserializer::new(event_type).deserialize(&mut json)?;
    Ok(Event::from(dispatch))
}

/// The lanes one of `live` workers should hold: an equal share, rounded up.
fn fair_share(lanes: usize, live: i64) -> usize {
    let live = usize::try_from(live.max(1)).unwrap_or(1);
    lanes.div_ceil(live)
}

fn lane_key(lane: Lane) -> i32 {
    i32::try_from(lane.number()).unwrap_or(i32::MAX)
}

/// Takes the first free worker slot; the number of held slots is the number of live workers.
async fn take_slot(connection: &mut PgConnection, namespace: i32) -> anyhow::Result<i32> {
    for slot in 0.. {
        if locks::try_lock(connection, namespace, slot).await? {
            return Ok(slot);
        }
    }
    unreachable!("some slot is free")
}

async fn release(connection: &mut PgConnection, namespaces: Namespaces, lane: Lane) {
    metrics::gauge!(LANE_HELD, "lane" => lane.to_string()).set(0.0);
    if let Err(error) = locks::unlock(connection, namespaces.lanes, lane_key(lane)).await {
        tracing::warn!(%error, %lane, "cannot release a lane lock");
    }
}

fn count(event_type: &str, outcome: &'static str) {
    metrics::counter!(WORKER_EVENTS, "kind" => event_type.to_ascii_lowercase(), "outcome" => outcome)
        .increment(1);
}

/// An ack or nak that did not reach NATS: the event comes again after the ack wait, and the
/// replay table, the claimed interaction ids and the message ids keep it from a second effect.
fn settle(result: Result<(), kakusan_bus::BusError>) {
    if let Err(error) = result {
        tracing::warn!(%error, "cannot settle an event with the bus");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_worker_holds_an_equal_share_rounded_up() {
        assert_eq!(fair_share(17, 1), 17);
        assert_eq!(fair_share(17, 3), 6);
        assert_eq!(fair_share(17, 0), 17);
        assert_eq!(fair_share(17, 40), 1);
    }

    #[test]
    fn groups_have_lock_namespaces_of_their_own() {
        let main = Namespaces::of("main");
        let other = Namespaces::of("other");
        assert_ne!(main.workers, other.workers);
        assert_ne!(main.workers, main.lanes);
        assert_eq!(main.workers, Namespaces::of("main").workers, "stable");
    }

    #[test]
    fn a_published_dispatch_decodes_to_the_same_event() {
        let json = br#"{"id":"3","channel_id":"5","guild_id":"7"}"#;
        let event = decode("MESSAGE_DELETE", json).unwrap();
        let Event::MessageDelete(deleted) = &event else {
            panic!("{event:?}");
        };
        assert_eq!(deleted.channel_id.get(), 5);
        let (kind, lane, payload) = crate::publish::encode(event).unwrap();
        assert_eq!(kind, "MESSAGE_DELETE");
        assert_eq!(
            lane,
            Lane::of_key(5),
            "a channel's events share a partition"
        );
        assert!(matches!(
            decode(kind, &payload).unwrap(),
            Event::MessageDelete(again) if again.id.get() == 3
        ));
    }
}
