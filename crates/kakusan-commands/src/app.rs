//! The state every handler shares, and the routing of gateway events to the handlers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt as _;
use futures_util::future::Shared;
use kakusan_protocol::{Nonce, SyncAssembler};
use kakusan_storage::{PgPool, StorageError};
use tokio::sync::oneshot;
use twilight_http::Client;
use twilight_model::gateway::event::Event;
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, UserMarker};

use crate::interaction::{InLine, here_line};

/// Where the arrival time of an awaited pong goes.
pub(crate) type PongWaiter = oneshot::Sender<DateTime<Utc>>;

/// What the handlers need to know about this deployment.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The Discord application whose commands and buttons these are.
    pub application_id: Id<ApplicationMarker>,
    /// Whether the gateway asked for the Message Content intent (`KAKUSAN_MIRROR`). Mirror mode
    /// needs it; envelopes do not (see [`crate::federation`]).
    pub message_content: bool,
}

/// The shared state of the event handlers: one per process, passed as `Arc<App>`.
pub struct App {
    pub(crate) pool: PgPool,
    pub(crate) http: Arc<Client>,
    pub(crate) config: AppConfig,
    /// Partial `times.sync`s per local server. In memory by design: a restart in the middle
    /// of a sync only means the peer's next sync (on its next hello) replaces it.
    pub(crate) syncs: Mutex<HashMap<u64, SyncAssembler>>,
    /// `/ping`s waiting for their pong, by local server and nonce; the pong's arrival time is
    /// sent back. A pong that reaches another process of the deployment only touches the peer.
    pub(crate) pings: Mutex<HashMap<(u64, Nonce), PongWaiter>>,
    /// The bot's own user id, learned from READY, so its own messages are never handled.
    bot_user: OnceLock<Id<UserMarker>>,
    /// The order of message events per channel.
    turns: Turns,
    /// Envelopes whose id was recorded as seen but whose effect could not be stored (the
    /// database went away in between), by message id: their id is forgotten before they are
    /// checked again, or the retry would look like a replay.
    pub(crate) unfinished: Mutex<HashMap<u64, (u64, String)>>,
}

/// Places in line, one line per channel: each message event waits until the one before it in
/// its channel is done. A line is a chain of one-shot channels, so a finished (or failed, or
/// panicked) event lets the next one go by dropping its sender.
///
/// A gate in front of every line holds all of them while a new session catches up.
#[derive(Default)]
struct Turns {
    last: Mutex<HashMap<u64, oneshot::Receiver<()>>>,
    gate: Mutex<Option<Shared<oneshot::Receiver<()>>>>,
}

/// One event's place in its channel's line.
struct Turn {
    gate: Option<Shared<oneshot::Receiver<()>>>,
    previous: Option<oneshot::Receiver<()>>,
    done: oneshot::Sender<()>,
}

impl Turns {
    /// A place in `line` (a channel, or a member's `/here`s), behind the gate when `gated`.
    fn take(&self, line: u64, gated: bool) -> Turn {
        let (done, next) = oneshot::channel();
        let previous = self
            .last
            .lock()
            .expect("turn map poisoned")
            .insert(line, next);
        let gate = gated
            .then(|| self.gate.lock().expect("gate poisoned").clone())
            .flatten();
        Turn {
            gate,
            previous,
            done,
        }
    }

    /// Closes the gate for the turns taken from now on; dropping the sender opens it.
    fn close_gate(&self) -> oneshot::Sender<()> {
        let (open, gate) = oneshot::channel();
        *self.gate.lock().expect("gate poisoned") = Some(gate.shared());
        open
    }
}

impl Turn {
    /// Waits until the gate is open and the event before is done; dropping the returned
    /// sender lets the next go.
    async fn wait(self) -> oneshot::Sender<()> {
        // Errors only mean the senders were dropped: the gate is open, the event is done.
        if let Some(gate) = self.gate {
            let _ = gate.await;
        }
        if let Some(previous) = self.previous {
            let _ = previous.await;
        }
        self.done
    }
}

impl App {
    /// The handlers' state on `pool`, calling Discord through `http`.
    pub fn new(pool: PgPool, http: Arc<Client>, config: AppConfig) -> Arc<Self> {
        Arc::new(Self {
            pool,
            http,
            config,
            syncs: Mutex::default(),
            pings: Mutex::default(),
            bot_user: OnceLock::new(),
            turns: Turns::default(),
            unfinished: Mutex::default(),
        })
    }

    /// Handles one gateway event. An error is the caller's to log; the member already got a
    /// sentence where one was due.
    ///
    /// Call it in the order the events arrive: message events of one channel take their turn
    /// here, synchronously, and the returned futures handle them one after another in that
    /// order (an edit must not overtake its message, nor an announcement the sync before it).
    /// Everything else runs as soon as the future is polled.
    pub fn handle(
        self: &Arc<Self>,
        event: Event,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + use<> {
        let channel = match &event {
            Event::MessageCreate(message) => Some(message.channel_id),
            Event::MessageUpdate(message) => Some(message.channel_id),
            Event::MessageDelete(deleted) => Some(deleted.channel_id),
            _ => None,
        };
        // A member's `/here`s are stored in their order too; they need not wait for a
        // catch-up (they are not message events), so their line has no gate.
        let turn = match &event {
            Event::InteractionCreate(interaction) => {
                here_line(interaction).map(|member| self.turns.take(member, false))
            }
            _ => channel.map(|channel| self.turns.take(channel.get(), true)),
        };
        // A new session: message events wait until what arrived while kakusan was away has
        // been read, so that the old envelopes go first.
        let gate = matches!(event, Event::Ready(_)).then(|| self.turns.close_gate());
        let app = Arc::clone(self);
        async move {
            let done = match turn {
                Some(turn) => Some(turn.wait().await),
                None => None,
            };
            let outcome = app.dispatch(event, done).await;
            drop(gate);
            outcome
        }
    }

    /// `line`: the event's place in its line, held until the handler is done with it (a
    /// message event's until the end, a `/here`'s until its relay is stored).
    async fn dispatch(&self, event: Event, line: Option<InLine>) -> anyhow::Result<()> {
        match event {
            Event::Ready(ready) => {
                let _ = self.bot_user.set(ready.user.id);
                let guilds: Vec<u64> = ready.guilds.iter().map(|guild| guild.id.get()).collect();
                self.catch_up(&guilds).await;
                self.catch_up_mirrors(&guilds).await;
                Ok(())
            }
            Event::InteractionCreate(interaction) => self.interaction(interaction.0, line).await,
            Event::MessageCreate(message) if !self.is_own(&message.author.id) => {
                through_outage(|| self.message_created(&message.message)).await
            }
            Event::MessageUpdate(message) if !self.is_own(&message.author.id) => {
                through_outage(|| self.mirror_edit(&message.0)).await
            }
            Event::MessageDelete(deleted) => {
                through_outage(|| self.mirror_delete(deleted.channel_id, deleted.id)).await
            }
            _ => Ok(()),
        }
    }

    fn is_own(&self, author: &Id<UserMarker>) -> bool {
        self.bot_user.get() == Some(author)
    }

    /// Routes a new message: envelopes in a bot-com channel, mirror mode in times channels.
    async fn message_created(
        &self,
        message: &twilight_model::channel::Message,
    ) -> anyhow::Result<()> {
        if let Some(webhook) = message.webhook_id {
            // Only our master webhook's messages are envelopes; nothing else in a bot-com
            // channel is ever parsed, and webhook messages are never relayed (no loops).
            let server = kakusan_storage::servers::server_by_botcom_channel(
                &self.pool,
                message.channel_id.get(),
            )
            .await?;
            if let Some(server) = server
                && server.master_webhook_id == webhook.get()
            {
                // Already read by the catch-up at the start of this session.
                if server
                    .envelopes_read_until
                    .is_some_and(|read| message.id.get() <= read)
                {
                    return Ok(());
                }
                return self.envelope_message(server, message).await;
            }
            return Ok(());
        }
        if message.author.bot {
            return Ok(());
        }
        self.mirror_send(message).await
    }
}

/// Runs a message event's handler again while the database is unavailable (with backoff,
/// for up to [`OUTAGE_PATIENCE`]): Discord will not send the event a second time, so
/// giving up at the first failure would lose a member's post or a peer's envelope. Events
/// of the same channel wait behind it, in order.
pub(crate) async fn through_outage<F, Fut>(mut handler: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let deadline = tokio::time::Instant::now() + OUTAGE_PATIENCE;
    let mut delay = Duration::from_millis(500);
    loop {
        match handler().await {
            Err(error) if is_unavailable(&error) && tokio::time::Instant::now() < deadline => {
                tracing::warn!("the database is unavailable; the event waits: {error:#}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            outcome => return outcome,
        }
    }
}

/// How long a message event waits for the database to come back before it is given up.
const OUTAGE_PATIENCE: Duration = Duration::from_secs(15 * 60);

/// Whether the database was unreachable somewhere in `error`'s chain.
pub(crate) fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<StorageError>()
            .is_some_and(StorageError::is_unavailable)
            || cause
                .downcast_ref::<kakusan_storage::SqlError>()
                .is_some_and(kakusan_storage::means_unavailable)
    })
}

/// The sentence a member sees when the database is down.
pub(crate) const STORAGE_UNAVAILABLE: &str =
    "Storage unavailable, nothing was lost — try again shortly.";

/// The sentence for an error that is not the member's to fix: the storage sentence when the
/// database is down, a generic one otherwise (the details go to the log).
pub(crate) fn internal_sentence(error: &anyhow::Error) -> &'static str {
    if is_unavailable(error) {
        STORAGE_UNAVAILABLE
    } else {
        "Something went wrong on kakusan's side; the operator can find the details in its log."
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn unavailable() -> anyhow::Error {
        StorageError::Unavailable(sqlx::Error::PoolTimedOut).into()
    }

    #[test]
    fn an_unreachable_database_is_recognised_whatever_wraps_it() {
        assert!(is_unavailable(&unavailable()));
        // A transaction begun on the pool gives sqlx's own error.
        let raw = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("beginning");
        assert!(is_unavailable(&raw));
        assert!(!is_unavailable(&anyhow::Error::new(
            sqlx::Error::RowNotFound
        )));
        assert!(!is_unavailable(&anyhow::anyhow!("a bug")));
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_waits_out_an_outage_and_gives_up_after_its_patience() {
        let calls = AtomicUsize::new(0);
        let outcome = through_outage(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..3 => Err(unavailable()),
                _ => Ok(()),
            }
        })
        .await;
        assert!(outcome.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let started = tokio::time::Instant::now();
        let outcome = through_outage(|| async { Err(unavailable()) }).await;
        assert!(is_unavailable(&outcome.unwrap_err()));
        assert!(started.elapsed() >= OUTAGE_PATIENCE);

        // Any other error is not the database's absence: no retry.
        let calls = AtomicUsize::new(0);
        let outcome = through_outage(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(anyhow::anyhow!("a bug"))
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn events_of_a_channel_take_their_turns_in_order_behind_the_gate() {
        let turns = Turns::default();
        let gate = turns.close_gate();
        let first = turns.take(1, true);
        let second = turns.take(1, true);
        let other_channel = turns.take(2, true);
        let order = Arc::new(Mutex::new(Vec::new()));
        let run = |turn: Turn, name: &'static str| {
            let order = Arc::clone(&order);
            tokio::spawn(async move {
                let done = turn.wait().await;
                order.lock().unwrap().push(name);
                drop(done);
            })
        };
        // Started in the wrong order, and all held by the gate.
        let second = run(second, "second");
        let other = run(other_channel, "other");
        tokio::task::yield_now().await;
        assert!(
            order.lock().unwrap().is_empty(),
            "the gate holds every line"
        );
        let first = run(first, "first");
        drop(gate);
        for task in [second, other, first] {
            task.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        let position = |name| order.iter().position(|n| *n == name).unwrap();
        assert!(position("first") < position("second"), "{order:?}");
    }
}
