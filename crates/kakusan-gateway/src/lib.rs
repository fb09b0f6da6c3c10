//! kakusan's gateway loop: shards on twilight-gateway, each event handed to a handler.
//!
//! [`run`] asks Discord how many shards to open, runs one task per shard and hands every wanted
//! dispatch to an [`EventHandler`] in its own tracked task, so a slow or failing handler never
//! holds up the shard. It knows nothing of commands, storage or the relay.
//!
//! Shutdown comes in as a [`CancellationToken`]: every shard is closed with
//! [`CloseFrame::RESUME`], then running handlers get [`GatewayConfig::shutdown_grace`] to
//! finish. [`run`] returns the shards' sessions, which the caller keeps wherever it likes and
//! hands to the next run in [`GatewayConfig::resume`]: the shards then RESUME and Discord replays
//! what happened in between. A refused RESUME ends in a new session (twilight identifies), so a
//! stale session costs a round trip and nothing else.
//!
//! [`CloseFrame::RESUME`]: twilight_gateway::CloseFrame::RESUME

mod session;
mod shard;
mod status;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use twilight_gateway::queue::{InMemoryQueue, Queue};
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Session, Shard, ShardId};

pub use session::{RESUME_WINDOW, ShardSession};
pub use status::GatewayStatus;

/// Receives the events of every shard.
///
/// `handle` is called in the shard loop, in the order the gateway sent the events, and the
/// future it returns runs in a task of its own: futures of different events overlap. A handler
/// that needs some events in order takes its place in line in the synchronous part of `handle`
/// (which must be quick and must not block) and waits for its turn in the future.
pub trait EventHandler: Send + Sync + 'static {
    /// Handles one dispatch event; an error is logged in the event's span, never fatal.
    ///
    /// A panic is caught, logged and counted like an error.
    fn handle(
        self: Arc<Self>,
        shard: ShardId,
        event: Event,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static;
}

/// What [`run`] needs to connect; built by the binary from its configuration.
#[derive(Clone)]
pub struct GatewayConfig {
    /// The bot token, without the `Bot ` prefix.
    pub token: String,
    /// The intents every shard identifies with.
    pub intents: Intents,
    /// The events handed to the handler; the rest are not even deserialised.
    ///
    /// READY, RESUMED and heartbeat ACKs are always read (for the status and the metrics) but
    /// only handed over when listed here. Close frames never are: the connection's lifecycle is
    /// this crate's business.
    pub event_types: EventTypeFlags,
    /// The gateway WebSocket URL, e.g. `ws://127.0.0.1:8081`; `None` uses the URL Discord gives.
    pub proxy_url: Option<String>,
    /// How long shutdown waits for running handlers before it returns anyway.
    pub shutdown_grace: Duration,
    /// Sessions an earlier run returned, to be resumed by their shards. Sessions for another
    /// shard count than Discord recommends now are ignored: their guilds are spread differently.
    pub resume: Vec<ShardSession>,
    /// Which of the shards this process holds (all of them unless the deployment runs several
    /// gateway processes).
    pub slice: ShardSlice,
    /// The queue the shards wait in before they IDENTIFY; `None` is twilight's in-process
    /// queue. Gateway processes sharing one bot pass a queue that spans them.
    pub identify_queue: Option<Arc<dyn Queue + Send + Sync>>,
}

/// A slice of the shards, as Stateway balances them over gateway processes: process `index` of
/// `count` holds every shard `s` with `s % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSlice {
    /// This process's number, below `count`.
    pub index: u32,
    /// How many gateway processes share the shards.
    pub count: u32,
}

impl Default for ShardSlice {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl ShardSlice {
    /// The shards of this slice among `total`.
    pub fn shards(self, total: u32) -> impl Iterator<Item = ShardId> {
        let count = self.count.max(1);
        (0..total)
            .filter(move |shard| shard % count == self.index)
            .map(move |shard| ShardId::new(shard, total))
    }
}

/// The identify queue handed to twilight: the one given, or twilight's own.
#[derive(Clone)]
struct IdentifyQueue(Arc<dyn Queue + Send + Sync>);

impl fmt::Debug for IdentifyQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentifyQueue")
    }
}

impl Queue for IdentifyQueue {
    fn enqueue(&self, id: u32) -> tokio::sync::oneshot::Receiver<()> {
        self.0.enqueue(id)
    }
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token never reaches a log.
        f.debug_struct("GatewayConfig")
            .field("token", &"<redacted>")
            .field("intents", &self.intents)
            .field("event_types", &self.event_types)
            .field("proxy_url", &self.proxy_url)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("resume", &self.resume)
            .field("slice", &self.slice)
            .field("identify_queue", &self.identify_queue.is_some())
            .finish()
    }
}

/// Runs Discord's recommended number of shards until `shutdown` is cancelled.
///
/// `http` must already point at the right REST API; it is used once, for the shard count.
/// `status` is reset to the new shard count and then follows the shards' connections.
///
/// A shard with a session in `config.resume` (for the same shard count) resumes it; the others
/// identify.
///
/// On shutdown every shard is closed with a resumable close code, then running handlers get
/// `config.shutdown_grace` to finish (closing shards counts against the same bound); handlers
/// still running after it are left to the runtime and logged. Returns the shards' sessions
/// after a shutdown, each as it was when its shard stopped handing events over, so that a
/// resume replays exactly what this run did not handle.
///
/// # Errors
///
/// When the shard count cannot be fetched, or when a shard closes for good before shutdown
/// (an invalid token or disallowed intents); the other shards are then closed as on shutdown.
#[tracing::instrument(name = "gateway", skip_all)]
pub async fn run<H: EventHandler>(
    http: &twilight_http::Client,
    config: GatewayConfig,
    handler: Arc<H>,
    status: GatewayStatus,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<ShardSession>> {
    // `create_recommended` does the same but is deprecated since twilight-gateway 0.17.2 in
    // favour of asking for the count and building the shards of one bucket.
    let info = http
        .gateway()
        .authed()
        .await
        .context("asking Discord for the recommended shard count")?
        .model()
        .await
        .context("reading the recommended shard count")?;
    let total = info.shards;
    tracing::info!(
        shards = total,
        sessions_left = info.session_start_limit.remaining,
        "starting shards"
    );

    let queue = IdentifyQueue(
        config
            .identify_queue
            .clone()
            .unwrap_or_else(|| Arc::new(InMemoryQueue::default())),
    );
    let mut builder = ConfigBuilder::new(config.token.clone(), config.intents).queue(queue);
    if let Some(url) = &config.proxy_url {
        builder = builder.proxy_url(url.clone());
    }
    // One config for all shards, so they share one identify queue.
    let shard_config = builder.build();

    let offered = config.resume.len();
    let mut resume: HashMap<u32, ShardSession> = config
        .resume
        .into_iter()
        .filter(|saved| saved.shard.total() == total)
        .map(|saved| (saved.shard.number(), saved))
        .collect();
    if offered > 0 {
        tracing::info!(
            resuming = resume.len(),
            ignored = offered - resume.len(),
            "resuming the sessions of the previous run"
        );
    }

    let shards: Vec<ShardId> = config.slice.shards(total).collect();
    tracing::info!(
        slice = config.slice.index,
        of = config.slice.count,
        held = shards.len(),
        "this process's shards"
    );
    status.start(shards.len());
    let tracker = TaskTracker::new();
    // A shard that closes for good stops the others through this child token; the caller's
    // token is never cancelled from here.
    let stop = shutdown.child_token();
    let mut loops = JoinSet::new();
    // Each shard loop sends its session here when it stops, before it closes the connection:
    // a shard dropped for taking too long to close still leaves a resumable session.
    let (kept, mut sessions) = mpsc::unbounded_channel();
    for id in shards {
        let shard_config = match resume.remove(&id.number()) {
            Some(saved) => {
                let mut builder = ConfigBuilder::from(shard_config.clone())
                    .session(Session::new(saved.sequence, saved.session_id));
                if let Some(url) = saved.resume_url {
                    builder = builder.resume_url(url);
                }
                builder.build()
            }
            None => shard_config.clone(),
        };
        let shard = Shard::with_config(id, shard_config);
        loops.spawn(shard::run(
            shard,
            config.event_types,
            Arc::clone(&handler),
            tracker.clone(),
            status.clone(),
            stop.clone(),
            kept.clone(),
        ));
    }
    drop(kept);

    let mut failure = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(ended) = loops.join_next() => {
                // Before shutdown a shard loop only ends when its shard closed for good.
                let error = match ended {
                    Ok(Ok(())) => anyhow::anyhow!("a shard loop ended before shutdown"),
                    Ok(Err(error)) => error,
                    Err(join) => anyhow::anyhow!("a shard loop failed: {join}"),
                };
                tracing::error!(error = %format_args!("{error:#}"), "stopping the gateway");
                failure.get_or_insert(error);
                stop.cancel();
            }
        }
    }

    let deadline = tokio::time::Instant::now() + config.shutdown_grace;
    let closing = async {
        while let Some(ended) = loops.join_next().await {
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(error = %format_args!("{error:#}"), "shard ended badly");
                }
                Err(join) => tracing::warn!(%join, "shard loop failed while closing"),
            }
        }
    };
    if tokio::time::timeout_at(deadline, closing).await.is_err() {
        // Dropping a shard drops its connection without a close frame, which also leaves the
        // session resumable.
        tracing::warn!("shards did not close within the grace period");
        loops.abort_all();
    }
    tracker.close();
    if tokio::time::timeout_at(deadline, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            running = tracker.len(),
            "handlers still running after the grace period"
        );
    } else {
        tracing::info!("gateway stopped");
    }
    if let Some(error) = failure {
        return Err(error);
    }
    let mut kept = Vec::new();
    while let Ok(session) = sessions.try_recv() {
        kept.push(session);
    }
    kept.sort_by_key(|session| session.shard.number());
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_the_shards_round_robin_as_stateway_does() {
        let numbers = |index, count| -> Vec<u32> {
            ShardSlice { index, count }
                .shards(4)
                .map(|id| id.number())
                .collect()
        };
        assert_eq!(numbers(0, 1), [0, 1, 2, 3]);
        assert_eq!(numbers(0, 2), [0, 2]);
        assert_eq!(numbers(1, 2), [1, 3]);
        assert_eq!(numbers(2, 3), [2]);
        assert!(
            ShardSlice { index: 0, count: 2 }
                .shards(4)
                .all(|id| id.total() == 4)
        );
    }
}
