//! kakusan's scale-out bus: gateway events over NATS JetStream, in lanes that keep their order.
//!
//! `kakusan gateway` publishes every wanted dispatch with [`Bus::publish`]; `kakusan worker`s
//! read them through [`Bus::lane`]. This crate knows NATS and the subjects, not Discord's
//! models: an event is its type name (`MESSAGE_CREATE`) and its JSON, and which lane it goes to
//! is decided by the caller.
//!
//! **Subjects.** The stream (`GATEWAY` by default) holds `<prefix>.>`, the prefix being the
//! stream's name in lower case, so `gateway.<gateway_id>.<group>.<app_id>.<event.type>` as in
//! Stateway, plus one last token for the lane: `gateway.0.main.42.message.create.7` is a
//! `MESSAGE_CREATE` in partition 7. READY has no lane token (`gateway.0.main.42.ready`): it has a
//! lane of its own. nats-server 2.9 has neither subject transforms nor consumers with several
//! filters, so the lane is in the subject the gateway publishes on and each lane's consumer
//! filters `gateway.*.<group>.<app_id>.*.*.<n>`; every partitioned event type is therefore two
//! tokens long (`interaction.create`, `message.create`, `message.update`, `message.delete`).
//!
//! **Order.** Each lane has one durable pull consumer with `max_ack_pending` 1: the server hands
//! out the next event of a lane only after the one before was acknowledged, whichever worker
//! asks. Which worker asks is the caller's business (the binary takes a lane with a PostgreSQL
//! advisory lock).
//!
//! **Once.** A publish carries a `Nats-Msg-Id` made from the application, the event type and
//! the payload, so a dispatch Discord replays after a RESUME (or a gateway publishes twice) is
//! stored once within the duplicate window. The stream is a work queue: an acknowledged event is
//! removed. An event that fails [`MAX_DELIVER`] times goes to the dead-letter stream
//! (`GATEWAY_DLQ`, subjects `<prefix>_dlq.<group>.<app_id>`) with its error.

#![deny(missing_docs)]

mod dead;
mod lane;

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage as Publish, stream};
use bytes::Bytes;
use sha2::{Digest as _, Sha256};

pub use dead::DeadLetter;
pub use lane::{Delivery, LaneConsumer};

/// How many ordered partitions a deployment's events are spread over. Gateways and workers
/// must agree on it, so it is a constant rather than a setting: changing it is a release in
/// which the stream is drained first.
pub const PARTITIONS: u32 = 16;

/// How often an event is tried before it goes to the dead-letter stream.
pub const MAX_DELIVER: i64 = 5;

/// How long a re-published event is recognised as a duplicate. Longer than a RESUME can come
/// after the session it replays (`kakusan_gateway::RESUME_WINDOW`, 5 minutes).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The stream's name when none is configured.
pub const DEFAULT_STREAM: &str = "GATEWAY";

/// The header that carries a dead letter's error.
const ERROR_HEADER: &str = "Kakusan-Error";
/// The header that carries a dead letter's original subject.
const SUBJECT_HEADER: &str = "Kakusan-Subject";

/// What goes wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The NATS server could not be reached. The URL is not repeated: it may hold a user and
    /// password, or a token.
    #[error("connecting to NATS: {source}")]
    Connect {
        /// Why it failed.
        #[source]
        source: async_nats::ConnectError,
    },
    /// A JetStream request failed (no JetStream, a stream or consumer refused, a time-out).
    #[error("{what}: {message}")]
    JetStream {
        /// What was being done.
        what: &'static str,
        /// The server's or client's answer.
        message: String,
    },
    /// A name is not usable in a subject or a consumer name.
    #[error("{0}")]
    Name(String),
}

impl BusError {
    fn jetstream(what: &'static str, error: impl std::fmt::Display) -> Self {
        Self::JetStream {
            what,
            message: error.to_string(),
        }
    }
}

/// Where a deployment's events are: the NATS server, the stream, and whose events.
#[derive(Clone)]
pub struct BusConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`; it may hold credentials, so the config
    /// has no `Debug`.
    pub url: String,
    /// The stream's name (`GATEWAY`); its subjects start with the name in lower case.
    pub stream: String,
    /// The gateway group: the deployment's gateways and workers share it.
    pub group: String,
    /// The Discord application whose events these are.
    pub application: u64,
}

/// A client of the NATS server at `url`.
async fn connect_to(url: &str) -> Result<async_nats::Client, BusError> {
    async_nats::ConnectOptions::new()
        .name("kakusan")
        .connect(url)
        .await
        .map_err(|source| BusError::Connect { source })
}

/// Checks a stream or group name: letters, digits, `_` and `-` only, so that it is one subject
/// token and part of a consumer name.
///
/// # Errors
///
/// A sentence naming what is wrong with it.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 32 {
        return Err(format!("{name:?} must be 1 to 32 characters long"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "{name:?} may hold only letters, digits, '_' and '-'"
        ));
    }
    Ok(())
}

/// Which ordered lane an event travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// READY: the new session's catch-up runs in the worker that holds this lane.
    Ready,
    /// One of [`PARTITIONS`] partitions.
    Partition(u32),
}

impl Lane {
    /// Every lane: the partitions, then READY's.
    pub fn all() -> impl Iterator<Item = Lane> {
        (0..PARTITIONS).map(Lane::Partition).chain([Lane::Ready])
    }

    /// The partition of events ordered by `key` (a channel, a member).
    pub fn of_key(key: u64) -> Lane {
        // `PARTITIONS` fits in u32 and the remainder is smaller, so the cast is exact.
        Lane::Partition((key % u64::from(PARTITIONS)) as u32)
    }

    /// A small number for the lane, unique among lanes: the partition, or [`PARTITIONS`] for
    /// READY's. The binary's advisory locks use it as their key.
    pub fn number(self) -> u32 {
        match self {
            Lane::Ready => PARTITIONS,
            Lane::Partition(n) => n,
        }
    }
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lane::Ready => f.write_str("ready"),
            Lane::Partition(n) => write!(f, "p{n}"),
        }
    }
}

/// A connection to the bus for one deployment (group and application).
#[derive(Clone)]
pub struct Bus {
    jetstream: jetstream::Context,
    stream: String,
    prefix: String,
    group: String,
    application: u64,
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The event's sequence in the stream.
    pub sequence: u64,
    /// The stream had it already (a replayed dispatch): nothing new was stored.
    pub duplicate: bool,
}

impl Bus {
    /// Connects and makes sure the stream and the dead-letter stream exist.
    ///
    /// # Errors
    ///
    /// When NATS cannot be reached, has no JetStream, or refuses the streams.
    pub async fn connect(config: &BusConfig) -> Result<Self, BusError> {
        check_name(&config.stream).map_err(BusError::Name)?;
        check_name(&config.group).map_err(BusError::Name)?;
        let client = connect_to(&config.url).await?;
        let bus = Self {
            jetstream: jetstream::new(client),
            stream: config.stream.clone(),
            prefix: config.stream.to_ascii_lowercase(),
            group: config.group.clone(),
            application: config.application,
        };
        bus.ensure_streams().await?;
        Ok(bus)
    }

    /// Whether NATS at `url` answers with JetStream, and how many events wait in `stream`
    /// (`None` when no gateway has created it yet). Creates nothing; `kakusan check` uses it.
    ///
    /// # Errors
    ///
    /// When NATS cannot be reached or has no JetStream.
    pub async fn probe(url: &str, stream: &str) -> Result<Option<u64>, BusError> {
        let client = connect_to(url).await?;
        let jetstream = jetstream::new(client);
        match jetstream.get_stream(stream).await {
            Ok(mut found) => {
                let info = found
                    .info()
                    .await
                    .map_err(|error| BusError::jetstream("reading the stream", error))?;
                Ok(Some(info.state.messages))
            }
            // JetStream's own answer that there is no such stream (a server without JetStream
            // does not answer at all: a request error).
            Err(error)
                if matches!(
                    error.kind(),
                    jetstream::context::GetStreamErrorKind::JetStream(inner)
                        if inner.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(BusError::jetstream("looking for the stream", error)),
        }
    }

    /// Deletes `stream` and its dead-letter stream, events and all: for a test run's streams
    /// or a retired deployment. Streams that do not exist are no error.
    ///
    /// # Errors
    ///
    /// When NATS cannot be reached or refuses.
    pub async fn delete_streams(url: &str, stream: &str) -> Result<(), BusError> {
        let client = connect_to(url).await?;
        let jetstream = jetstream::new(client);
        for name in [stream.to_owned(), format!("{stream}_DLQ")] {
            if jetstream.get_stream(&name).await.is_ok() {
                jetstream
                    .delete_stream(&name)
                    .await
                    .map_err(|error| BusError::jetstream("deleting a stream", error))?;
            }
        }
        Ok(())
    }

    async fn ensure_streams(&self) -> Result<(), BusError> {
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: self.stream.clone(),
                subjects: vec![format!("{}.>", self.prefix)],
                // An acknowledged event is gone; an unacknowledged one waits for a worker.
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|error| BusError::jetstream("creating the event stream", error))?;
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: self.dead_stream(),
                subjects: vec![format!("{}_dlq.>", self.prefix)],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|error| BusError::jetstream("creating the dead-letter stream", error))?;
        Ok(())
    }

    fn dead_stream(&self) -> String {
        format!("{}_DLQ", self.stream)
    }

    /// The subject of an event of type `event_type` (Discord's name, `MESSAGE_CREATE`) from
    /// gateway `gateway_id` in `lane`.
    pub fn subject(&self, gateway_id: u32, event_type: &str, lane: Lane) -> String {
        subject(
            &self.prefix,
            &self.group,
            self.application,
            gateway_id,
            event_type,
            lane,
        )
    }

    /// Publishes one dispatch and waits until the stream stored it.
    ///
    /// # Errors
    ///
    /// When the stream does not answer (NATS down, no stream); the caller may publish again,
    /// the duplicate id makes that safe.
    pub async fn publish(
        &self,
        gateway_id: u32,
        event_type: &str,
        lane: Lane,
        payload: Bytes,
    ) -> Result<Published, BusError> {
        let id = self.message_id(event_type, &payload);
        let ack = self
            .jetstream
            .send_publish(
                self.subject(gateway_id, event_type, lane),
                Publish::build().payload(payload).message_id(id),
            )
            .await
            .map_err(|error| BusError::jetstream("publishing an event", error))?
            .await
            .map_err(|error| BusError::jetstream("storing an event", error))?;
        Ok(Published {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// The de-duplication id: the same dispatch, replayed by Discord after a RESUME or
    /// published by a restarted gateway, gets the same id whichever gateway publishes it.
    fn message_id(&self, event_type: &str, payload: &[u8]) -> String {
        let mut hash = Sha256::new();
        hash.update(self.application.to_be_bytes());
        hash.update(event_type.as_bytes());
        hash.update([0]);
        hash.update(payload);
        let digest = hash.finalize();
        digest.iter().take(16).fold(String::new(), |mut id, byte| {
            use std::fmt::Write as _;
            let _ = write!(id, "{byte:02x}");
            id
        })
    }

    /// The consumer of `lane`, created on first use and shared by every worker of the group.
    ///
    /// `ack_wait` is how long an event handed to a worker that went silent waits before it is
    /// handed out again; a worker handling an event for longer says so with
    /// [`Delivery::in_progress`].
    ///
    /// # Errors
    ///
    /// When JetStream refuses the consumer.
    pub async fn lane(&self, lane: Lane, ack_wait: Duration) -> Result<LaneConsumer, BusError> {
        let stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|error| BusError::jetstream("opening the event stream", error))?;
        let name = format!("{}_{}_{lane}", self.group, self.application);
        let consumer = stream
            .get_or_create_consumer(
                &name,
                jetstream::consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: filter(&self.prefix, &self.group, self.application, lane),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait,
                    max_deliver: MAX_DELIVER,
                    // One event of a lane at a time, whichever worker asks: the order.
                    max_ack_pending: 1,
                    ..Default::default()
                },
            )
            .await
            .map_err(|error| BusError::jetstream("creating a lane's consumer", error))?;
        Ok(LaneConsumer::new(lane, consumer))
    }

    /// Moves `delivery` to the dead-letter stream with `error`, then removes it from its lane.
    ///
    /// # Errors
    ///
    /// When the dead letter cannot be stored; the event then stays in its lane.
    pub async fn dead_letter(&self, delivery: Delivery, error: &str) -> Result<(), BusError> {
        let mut headers = HeaderMap::new();
        headers.insert(ERROR_HEADER, one_line(error).as_str());
        headers.insert(SUBJECT_HEADER, delivery.subject());
        self.jetstream
            .publish_with_headers(
                format!("{}_dlq.{}.{}", self.prefix, self.group, self.application),
                headers,
                delivery.payload().clone(),
            )
            .await
            .map_err(|error| BusError::jetstream("publishing a dead letter", error))?
            .await
            .map_err(|error| BusError::jetstream("storing a dead letter", error))?;
        delivery.give_up().await
    }
}

/// `<prefix>.<gateway_id>.<group>.<application>.<event.type>[.<partition>]`.
fn subject(
    prefix: &str,
    group: &str,
    application: u64,
    gateway_id: u32,
    event_type: &str,
    lane: Lane,
) -> String {
    let kind = event_type.to_ascii_lowercase().replace('_', ".");
    let base = format!("{prefix}.{gateway_id}.{group}.{application}.{kind}");
    match lane {
        Lane::Ready => base,
        Lane::Partition(n) => format!("{base}.{n}"),
    }
}

/// What a lane's consumer reads: the lane's events from every gateway of the group. Partitioned
/// event types are two tokens long, so one filter per lane is enough (nats-server 2.9 allows
/// one).
fn filter(prefix: &str, group: &str, application: u64, lane: Lane) -> String {
    let base = format!("{prefix}.*.{group}.{application}");
    match lane {
        Lane::Ready => format!("{base}.ready"),
        Lane::Partition(n) => format!("{base}.*.*.{n}"),
    }
}

/// A header value is one line: an error's chain is joined, control characters are dropped.
fn one_line(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_are_numbered_apart_and_keys_spread_over_partitions() {
        let numbers: std::collections::BTreeSet<u32> = Lane::all().map(Lane::number).collect();
        assert_eq!(numbers.len(), PARTITIONS as usize + 1);
        assert_eq!(Lane::of_key(3), Lane::Partition(3));
        assert_eq!(Lane::of_key(u64::from(PARTITIONS) + 3), Lane::Partition(3));
        assert_eq!(Lane::Ready.to_string(), "ready");
        assert_eq!(Lane::Partition(7).to_string(), "p7");
    }

    #[test]
    fn subjects_follow_stateway_with_the_lane_last_and_filters_match_them() {
        let message = subject(
            "gateway",
            "main",
            42,
            1,
            "MESSAGE_CREATE",
            Lane::Partition(7),
        );
        assert_eq!(message, "gateway.1.main.42.message.create.7");
        let interaction = subject(
            "gateway",
            "main",
            42,
            0,
            "INTERACTION_CREATE",
            Lane::of_key(3),
        );
        assert_eq!(interaction, "gateway.0.main.42.interaction.create.3");
        let ready = subject("gateway", "main", 42, 0, "READY", Lane::Ready);
        assert_eq!(ready, "gateway.0.main.42.ready");
        let matches = |filter: &str, subject: &str| {
            let (f, s): (Vec<&str>, Vec<&str>) =
                (filter.split('.').collect(), subject.split('.').collect());
            f.len() == s.len() && f.iter().zip(&s).all(|(f, s)| *f == "*" || f == s)
        };
        assert!(matches(
            &filter("gateway", "main", 42, Lane::Partition(7)),
            &message
        ));
        assert!(!matches(
            &filter("gateway", "main", 42, Lane::Partition(3)),
            &message
        ));
        assert!(matches(
            &filter("gateway", "main", 42, Lane::Partition(3)),
            &interaction
        ));
        assert!(matches(&filter("gateway", "main", 42, Lane::Ready), &ready));
        assert!(!matches(
            &filter("gateway", "main", 42, Lane::Ready),
            &message
        ));
        assert!(!matches(
            &filter("gateway", "other", 42, Lane::Partition(7)),
            &message
        ));
    }

    #[test]
    fn names_must_be_one_subject_token() {
        assert!(check_name("GATEWAY").is_ok());
        assert!(check_name("main-1_a").is_ok());
        for bad in ["", "a.b", "a*", "a>", "a b", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_header_value_is_one_line() {
        assert_eq!(one_line(" a\nb\r\tc "), "a b  c");
    }
}
