//! One shard's loop: read events, keep the status and metrics, hand events to the handler.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;
use twilight_gateway::{
    CloseFrame, Event, EventTypeFlags, Shard, ShardId, ShardState, StreamExt as _,
};

use crate::{EventHandler, GatewayStatus, IdentifyQueue, ShardSession};

/// Events the loop reads for itself whatever the handler wants: READY and RESUMED mark a
/// connection, heartbeat ACKs carry a fresh latency. Close frames are always read by twilight.
const OWN_EVENTS: EventTypeFlags = EventTypeFlags::READY
    .union(EventTypeFlags::RESUMED)
    .union(EventTypeFlags::GATEWAY_HEARTBEAT_ACK);

/// Reads `shard` until `stop` is cancelled, then sends its session to `kept` and closes it so
/// the session can be resumed.
///
/// Returns an error only when the shard closed for good (twilight gives up after close codes
/// such as 4004 "authentication failed"); receive errors are logged and the loop goes on, since
/// twilight reconnects and resumes by itself.
#[tracing::instrument(name = "shard", skip_all, fields(shard = %shard.id()))]
pub(crate) async fn run<H: EventHandler>(
    mut shard: Shard<IdentifyQueue>,
    wanted: EventTypeFlags,
    handler: Arc<H>,
    tracker: TaskTracker,
    status: GatewayStatus,
    stop: CancellationToken,
    kept: mpsc::UnboundedSender<ShardSession>,
) -> anyhow::Result<()> {
    let id = shard.id();
    let mut link = Link::new(id, status);
    loop {
        let item = tokio::select! {
            // Shutdown wins over a ready event so that no new handler starts after it.
            biased;
            () = stop.cancelled() => break,
            item = shard.next_event(wanted | OWN_EVENTS) => item,
        };
        let event = match item {
            Some(Ok(event)) => event,
            Some(Err(error)) => {
                tracing::warn!(error = %error, "receiving a gateway event failed");
                if !shard.state().is_identified() {
                    link.lost();
                }
                continue;
            }
            None => {
                link.lost();
                anyhow::bail!("shard {id} closed for good ({:?})", shard.state());
            }
        };
        link.observe(&shard, &event);
        // Close frames map onto the empty flag set, which every set contains; they are ours.
        let kind = EventTypeFlags::from(event.kind());
        if !kind.is_empty() && wanted.contains(kind) {
            dispatch(&tracker, &handler, id, event);
        }
    }

    link.lost();
    // Taken now, not after the close: twilight counts every event it reads, and the events
    // that arrive while the close is answered are not handed to the handler, so the next
    // process must have them replayed.
    if let Some(session) = ShardSession::of(&shard) {
        let _ = kept.send(session);
    }
    // twilight ignores a close request while it is disconnected; a reconnecting shard is
    // simply dropped, which leaves its session resumable too.
    if matches!(shard.state(), ShardState::Disconnected { .. }) {
        return Ok(());
    }
    shard.close(CloseFrame::RESUME);
    // The shard sends its close frame only while polled; read until the gateway answers it,
    // handing nothing more to the handler. A HELLO means the answer was lost and twilight
    // opened a new connection, which we drop too. The caller bounds how long this may take.
    while let Some(item) = shard.next_event(EventTypeFlags::GATEWAY_HELLO).await {
        match item {
            Ok(Event::GatewayClose(frame)) => {
                tracing::info!(code = frame.map(|f| f.code), "shard closed");
                break;
            }
            Ok(Event::GatewayHello(_)) => {
                tracing::warn!("the gateway did not answer the close frame; dropping the shard");
                break;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs the handler for one event in a tracked task, in a span naming the shard and event.
fn dispatch<H: EventHandler>(
    tracker: &TaskTracker,
    handler: &Arc<H>,
    shard: ShardId,
    event: Event,
) {
    let span = tracing::info_span!("event", shard = %shard, kind = ?event.kind());
    // The handler is called here, in the shard loop, so the synchronous part of `handle` sees
    // the events in the order the gateway sent them; only the future it returns runs in a
    // task of its own.
    let handler = Arc::clone(handler);
    let future = span
        .in_scope(|| std::panic::catch_unwind(AssertUnwindSafe(|| handler.handle(shard, event))));
    tracker.spawn(
        async move {
            // A panicking handler must not look different to the operator from a failing one.
            let outcome = match future {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            let failed = match outcome {
                Ok(Ok(())) => false,
                Ok(Err(error)) => {
                    tracing::error!(error = %format_args!("{error:#}"), "event handler failed");
                    true
                }
                Err(panic) => {
                    tracing::error!(panic = panic_message(&*panic), "event handler panicked");
                    true
                }
            };
            if failed {
                metrics::counter!("kakusan_gateway_handler_errors_total").increment(1);
            }
        }
        .instrument(span),
    );
}

/// The text of a panic payload, when it has one.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// One shard's connection as the status and the metrics see it.
struct Link {
    /// The shard number as the metrics label.
    label: String,
    status: GatewayStatus,
    /// Between READY/RESUMED and the next close.
    connected: bool,
    /// Whether the shard has had its first READY or RESUMED (a session of the previous run):
    /// any connection after it is a reconnect.
    connected_once: bool,
}

impl Link {
    fn new(id: ShardId, status: GatewayStatus) -> Self {
        Self {
            label: id.number().to_string(),
            status,
            connected: false,
            connected_once: false,
        }
    }

    fn observe(&mut self, shard: &Shard<IdentifyQueue>, event: &Event) {
        match event {
            Event::Ready(_) => {
                // Not the session id: the next process may resume it, so it stays out of logs.
                tracing::info!("shard ready");
                if self.connected_once {
                    self.reconnected();
                }
                self.connected_once = true;
                self.connected();
            }
            Event::Resumed => {
                tracing::info!("shard resumed");
                if self.connected_once {
                    self.reconnected();
                }
                self.connected_once = true;
                self.connected();
            }
            Event::GatewayClose(frame) => {
                tracing::info!(
                    code = frame.as_ref().map(|f| f.code),
                    reason = frame.as_ref().map(|f| &*f.reason),
                    "gateway connection closed"
                );
                self.lost();
            }
            Event::GatewayReconnect => tracing::info!("gateway asked for a reconnect"),
            Event::GatewayInvalidateSession(resumable) => {
                tracing::info!(resumable, "gateway invalidated the session");
            }
            Event::GatewayHeartbeatAck => {
                // `recent()` lists the newest period first.
                if let Some(latest) = shard.latency().recent().first() {
                    metrics::gauge!("kakusan_gateway_latency_seconds", "shard" => self.label.clone())
                        .set(latest.as_secs_f64());
                }
            }
            _ => {}
        }
    }

    fn reconnected(&self) {
        metrics::counter!("kakusan_gateway_reconnects_total", "shard" => self.label.clone())
            .increment(1);
    }

    fn connected(&mut self) {
        if !self.connected {
            self.connected = true;
            self.status.set_connected(true);
        }
    }

    fn lost(&mut self) {
        if self.connected {
            self.connected = false;
            self.status.set_connected(false);
        }
    }
}
