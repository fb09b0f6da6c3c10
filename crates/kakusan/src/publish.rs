//! `kakusan gateway`: the shards of this process's slice, every wanted dispatch published to
//! the bus in the lane that keeps its order; no handler and no delivery run here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kakusan_bus::{Bus, Lane};
use kakusan_commands::App;
use kakusan_gateway::EventHandler;
use kakusan_storage::{PgPool, catch_ups};
use tokio::sync::{mpsc, oneshot};
use twilight_gateway::{Event, ShardId};
use twilight_model::gateway::event::DispatchEvent;
use twilight_model::gateway::payload::incoming::GuildCreate;

use crate::metrics::{EVENTS_PUBLISHED, PUBLISH_FAILURES};

/// The longest wait between two tries of a publish while NATS does not answer.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

/// One event on its way to the bus, and who waits for the outcome.
struct Outgoing {
    event_type: &'static str,
    lane: Lane,
    payload: Bytes,
    /// For a READY, its shard: the catch-up gate closes before it is published.
    ready_shard: Option<u32>,
    done: oneshot::Sender<()>,
}

/// The gateway's handler: it serialises each dispatch in the shard loop, in the gateway's
/// order, and one task publishes them in that order, so a lane's events reach the stream as
/// Discord sent them.
pub(crate) struct Publisher {
    outgoing: mpsc::UnboundedSender<Outgoing>,
}

impl Publisher {
    /// A publisher on `bus` as gateway `gateway_id`; its task ends when the publisher is
    /// dropped (after the shards stopped) and everything queued was published.
    pub(crate) fn start(bus: Bus, pool: PgPool, gateway_id: u32) -> Arc<Self> {
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Outgoing>();
        tokio::spawn(async move {
            while let Some(event) = queue.recv().await {
                if let Some(shard) = event.ready_shard {
                    close_gate(&pool, shard).await;
                }
                publish(&bus, gateway_id, &event).await;
                let _ = event.done.send(());
            }
        });
        Arc::new(Self { outgoing })
    }
}

/// Closes `shard`'s catch-up gate before its READY goes out, so that no worker handles a
/// message event of the new session before the catch-up (see `worker`). Tried until the
/// database answers, like a publish until NATS does: the events behind wait.
async fn close_gate(pool: &PgPool, shard: u32) {
    until_done(
        || catch_ups::close(pool, shard),
        |error| tracing::warn!(%error, shard, "cannot close the catch-up gate; trying again"),
        || {},
    )
    .await;
}

/// Publishes one event, trying again for as long as NATS does not answer: the events behind
/// it wait in order, in memory, and Discord's session goes on. The de-duplication id makes a
/// second try harmless. Every failed try is counted.
async fn publish(bus: &Bus, gateway_id: u32, event: &Outgoing) {
    let (published, failures) = until_done(
        || {
            bus.publish(
                gateway_id,
                event.event_type,
                event.lane,
                event.payload.clone(),
            )
        },
        |error| {
            tracing::warn!(%error, "publishing an event failed; trying again until NATS answers");
        },
        || metrics::counter!(PUBLISH_FAILURES).increment(1),
    )
    .await;
    let outcome = if published.duplicate {
        "duplicate"
    } else {
        "stored"
    };
    metrics::counter!(EVENTS_PUBLISHED, "kind" => event.event_type, "outcome" => outcome)
        .increment(1);
    if failures > 0 {
        tracing::info!(failures, "NATS answers again; publishing goes on");
    }
}

/// Tries `attempt` until it succeeds, waiting longer after each failure (up to
/// [`LONGEST_WAIT`]); the first failure of a run is `logged`, every one `counted`. Returns the
/// success and how many tries failed before it.
async fn until_done<T, E, Fut>(
    mut attempt: impl FnMut() -> Fut,
    logged: impl FnOnce(&E),
    counted: impl Fn(),
) -> (T, u32)
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut wait = Duration::from_millis(100);
    let mut failures = 0_u32;
    let mut logged = Some(logged);
    loop {
        match attempt().await {
            Ok(done) => return (done, failures),
            Err(error) => {
                counted();
                if let Some(log) = logged.take() {
                    log(&error);
                }
                failures += 1;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LONGEST_WAIT);
            }
        }
    }
}

impl EventHandler for Publisher {
    fn handle(
        self: Arc<Self>,
        _shard: ShardId,
        event: Event,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let queued = self.queue(event);
        async move {
            match queued {
                Some(done) => done.await.map_err(|_| {
                    anyhow::anyhow!("the publisher stopped before the event went out")
                }),
                None => Ok(()),
            }
        }
    }
}

impl Publisher {
    /// Puts `event` in the publishing queue, synchronously so that the order is the gateway's.
    fn queue(&self, event: Event) -> Option<oneshot::Receiver<()>> {
        let ready_shard = ready_shard(&event);
        let (event_type, lane, payload) = encode(event)?;
        let (done, outcome) = oneshot::channel();
        self.outgoing
            .send(Outgoing {
                event_type,
                lane,
                payload,
                ready_shard,
                done,
            })
            .ok()?;
        Some(outcome)
    }
}

/// The event's type name, its lane and its JSON, or `None` for an event that is not a
/// dispatch (the gateway crate hands over only dispatches).
pub(crate) fn encode(event: Event) -> Option<(&'static str, Lane, Bytes)> {
    let lane = lane_of(&event);
    let dispatch = DispatchEvent::try_from(trimmed(event)).ok()?;
    let event_type = dispatch.kind().name()?;
    match serde_json::to_vec(&dispatch) {
        Ok(json) => Some((event_type, lane, Bytes::from(json))),
        Err(error) => {
            tracing::error!(%error, event_type, "an event could not be serialised; dropped");
            None
        }
    }
}

/// For a READY, its shard (0 when Discord names none): whose catch-up gate it concerns.
pub(crate) fn ready_shard(event: &Event) -> Option<u32> {
    match event {
        Event::Ready(ready) => Some(ready.shard.map_or(0, |shard| shard.number())),
        _ => None,
    }
}

/// The event without what no handler reads: of a guild's arrival the handlers need its id and
/// language, while its channels, threads, roles and emojis can take a large guild's
/// GUILD_CREATE past NATS's payload limit (1 MB by default), and a publish that cannot succeed
/// would hold up every event behind it.
fn trimmed(event: Event) -> Event {
    let Event::GuildCreate(created) = event else {
        return event;
    };
    let GuildCreate::Available(mut guild) = *created else {
        return Event::GuildCreate(created);
    };
    guild.channels.clear();
    guild.threads.clear();
    guild.roles.clear();
    guild.emojis.clear();
    guild.stickers.clear();
    guild.members.clear();
    guild.presences.clear();
    guild.voice_states.clear();
    guild.stage_instances.clear();
    guild.guild_scheduled_events.clear();
    Event::GuildCreate(Box::new(GuildCreate::Available(guild)))
}

/// READY has a lane of its own; an event with a line to keep (a channel's messages, a member's
/// `/here`s) goes to that line's partition; any other interaction is spread by its id.
fn lane_of(event: &Event) -> Lane {
    if matches!(event, Event::Ready(_)) {
        return Lane::Ready;
    }
    if let Some(key) = App::order_key(event) {
        return Lane::of_key(key);
    }
    match event {
        Event::InteractionCreate(interaction) => Lane::of_key(interaction.id.get()),
        _ => Lane::Partition(0),
    }
}

#[cfg(test)]
mod tests {
    use twilight_model::gateway::payload::incoming::GuildCreate;

    use super::*;

    #[test]
    fn a_guilds_arrival_is_published_with_its_id_and_language_only() {
        let guild = serde_json::json!({
            "id": "100", "name": "alpha", "owner_id": "1", "preferred_locale": "ja",
            "afk_timeout": 300, "default_message_notifications": 0,
            "explicit_content_filter": 0, "features": [], "mfa_level": 0, "nsfw_level": 0,
            "premium_progress_bar_enabled": false, "premium_tier": 0,
            "system_channel_flags": 0, "verification_level": 0,
            "roles": [{"id": "100", "name": "@everyone", "color": 0, "hoist": false,
                       "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
                       "managed": false, "mentionable": false, "permissions": "0",
                       "position": 0, "flags": 0}],
            "channels": [{"id": "101", "type": 0, "name": "times", "guild_id": "100"}],
        });
        let guild: twilight_model::guild::Guild = serde_json::from_value(guild).unwrap();
        let created = GuildCreate::Available(guild);
        let (event_type, _, payload) =
            encode(Event::GuildCreate(Box::new(created))).expect("a dispatch");
        assert_eq!(event_type, "GUILD_CREATE");
        let Event::GuildCreate(decoded) = crate::worker::decode(event_type, &payload).unwrap()
        else {
            panic!("not a GUILD_CREATE");
        };
        let GuildCreate::Available(guild) = *decoded else {
            panic!("not available");
        };
        assert_eq!(
            (guild.id.get(), guild.preferred_locale.as_str()),
            (100, "ja")
        );
        assert!(guild.channels.is_empty() && guild.roles.is_empty());
    }
}
