//! The inbound verification pipeline: every envelope passes these checks, in this order, before
//! it may have any effect.
//!
//! 1. size (at most [`MAX_WIRE_BYTES`], checked before anything else is looked at),
//! 2. parse (wire layout, JSON header, version, names, kind, id),
//! 3. known `src` (through [`PeerKeys`]; an unregistered sender is only accepted for
//!    `peer.hello`, whose sealed card supplies the key),
//! 4. signature over the exact payload bytes, then the body is decoded into its typed struct,
//! 5. `dst` is this server,
//! 6. timestamp within ±[`MAX_CLOCK_SKEW`] of now,
//! 7. replay (through [`ReplayGuard`]),
//! 8. `ttl > 0`.

use crate::ServerName;
use crate::WebhookPolicy;
use crate::card::Card;
use crate::envelope::{
    Body, Envelope, EnvelopeId, Hello, Kind, MAX_WIRE_BYTES, PROTOCOL_VERSION, PayloadIn, Ttl,
    split_wire,
};
use crate::keys::{SealingSecret, VerifyKey};
use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{LazyLock, Mutex};

/// How far an envelope's timestamp may be from the receiver's clock, either way.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::seconds(300);

/// Looks up the verify key of a registered peer by name.
///
/// Implemented for maps and for closures; the binary backs it with the peers it loaded from
/// storage.
pub trait PeerKeys {
    /// The verify key of `name` if it is a registered peer of this server.
    fn verify_key(&self, name: &ServerName) -> Option<VerifyKey>;
}

impl<S: BuildHasher> PeerKeys for HashMap<ServerName, VerifyKey, S> {
    fn verify_key(&self, name: &ServerName) -> Option<VerifyKey> {
        self.get(name).copied()
    }
}

impl<F> PeerKeys for F
where
    F: Fn(&ServerName) -> Option<VerifyKey>,
{
    fn verify_key(&self, name: &ServerName) -> Option<VerifyKey> {
        self(name)
    }
}

/// The replay check could not be carried out (for example, the database is down). This is not
/// the sender's fault; the envelope may be checked again later.
#[derive(Debug, thiserror::Error)]
#[error("the replay check could not be carried out")]
pub struct ReplayError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl ReplayError {
    /// Wraps the underlying error, keeping it as the source.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(source.into())
    }
}

/// Remembers which envelope ids a server has already accepted.
pub trait ReplayGuard {
    /// Records that `receiver` has seen envelope `id`, sent at `sent_at`, and returns `true`
    /// if it had not been seen before. Checking and recording must be one atomic step, so
    /// that two concurrent deliveries of the same envelope cannot both get `true`.
    ///
    /// Ids whose `sent_at` is older than [`MAX_CLOCK_SKEW`] before now may be forgotten: such an
    /// envelope fails the timestamp check before it reaches this one. An implementation that
    /// records the arrival time instead of `sent_at` must keep ids for twice the skew (600 s),
    /// because an envelope stamped 300 s in the future stays acceptable for 600 s after arrival.
    fn first_sighting(
        &self,
        receiver: &ServerName,
        id: &EnvelopeId,
        sent_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, ReplayError>> + Send;
}

/// An in-memory [`ReplayGuard`] for tests and single-process tools.
#[derive(Debug, Default)]
pub struct MemoryReplayGuard {
    seen: Mutex<HashMap<(ServerName, EnvelopeId), DateTime<Utc>>>,
}

impl MemoryReplayGuard {
    /// Forgets ids sent before `cutoff`; call it with `now - MAX_CLOCK_SKEW`.
    pub fn prune(&self, cutoff: DateTime<Utc>) {
        self.lock().retain(|_, sent_at| *sent_at >= cutoff);
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(ServerName, EnvelopeId), DateTime<Utc>>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is a
        // single insert or retain), so a poisoned lock is safe to keep using.
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn first_sighting(
        &self,
        receiver: &ServerName,
        id: &EnvelopeId,
        sent_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, ReplayError>> + Send {
        let fresh = self
            .lock()
            .insert((receiver.clone(), *id), sent_at)
            .is_none();
        std::future::ready(Ok(fresh))
    }
}

/// Why an envelope was not accepted. `Display` is one line for the bot-com channel log;
/// [`Rejection::as_str`] is a stable label for metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The message is longer than [`MAX_WIRE_BYTES`].
    TooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The message is not a well-formed envelope v1.
    Malformed {
        /// What is wrong, sanitised to one short line.
        reason: String,
    },
    /// The envelope claims to come from this server itself; a bot never processes its own posts.
    OwnMessage,
    /// The sender is not a registered peer (and the envelope is not a `peer.hello`).
    UnknownSrc {
        /// The claimed sender.
        src: ServerName,
    },
    /// A `peer.hello` from an unregistered sender whose sealed card is unusable.
    BadCard {
        /// The claimed sender.
        src: ServerName,
        /// What is wrong with the card.
        reason: String,
    },
    /// The signature does not match the sender's key.
    BadSignature {
        /// The claimed sender.
        src: ServerName,
    },
    /// The envelope is addressed to another server.
    WrongDst {
        /// The sender.
        src: ServerName,
        /// The server it is addressed to.
        dst: ServerName,
    },
    /// The timestamp is too far from now.
    Stale {
        /// The sender.
        src: ServerName,
        /// Envelope time minus now, in seconds (negative: in the past).
        skew_secs: i64,
    },
    /// The id was seen before.
    Replayed {
        /// The sender.
        src: ServerName,
        /// The repeated id.
        id: EnvelopeId,
    },
    /// The envelope arrived with `ttl = 0`.
    TtlExpired {
        /// The sender.
        src: ServerName,
        /// The envelope's id.
        id: EnvelopeId,
    },
}

impl Rejection {
    /// Every label [`Rejection::as_str`] can return, for registering metrics up front.
    pub const LABELS: [&'static str; 10] = [
        "too_large",
        "malformed",
        "own_message",
        "unknown_src",
        "bad_card",
        "bad_signature",
        "wrong_dst",
        "stale",
        "replayed",
        "ttl_expired",
    ];

    /// A stable, lower-case label for metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rejection::TooLarge { .. } => "too_large",
            Rejection::Malformed { .. } => "malformed",
            Rejection::OwnMessage => "own_message",
            Rejection::UnknownSrc { .. } => "unknown_src",
            Rejection::BadCard { .. } => "bad_card",
            Rejection::BadSignature { .. } => "bad_signature",
            Rejection::WrongDst { .. } => "wrong_dst",
            Rejection::Stale { .. } => "stale",
            Rejection::Replayed { .. } => "replayed",
            Rejection::TtlExpired { .. } => "ttl_expired",
        }
    }

    fn malformed(reason: impl fmt::Display) -> Self {
        Rejection::Malformed {
            reason: one_line(&reason.to_string()),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooLarge { len } => write!(
                f,
                "rejected a message of {len} bytes: envelopes are at most {MAX_WIRE_BYTES}"
            ),
            Rejection::Malformed { reason } => write!(f, "rejected a malformed envelope: {reason}"),
            Rejection::OwnMessage => {
                f.write_str("ignored an envelope that claims to come from this server")
            }
            Rejection::UnknownSrc { src } => write!(
                f,
                "rejected an envelope from {src}, which is not a registered peer"
            ),
            Rejection::BadCard { src, reason } => {
                write!(f, "rejected a peer.hello from {src}: {reason}")
            }
            Rejection::BadSignature { src } => write!(
                f,
                "rejected an envelope claiming to come from {src}: the signature does not match its key"
            ),
            Rejection::WrongDst { src, dst } => write!(
                f,
                "rejected an envelope from {src} addressed to {dst}, not to this server"
            ),
            Rejection::Stale { src, skew_secs } => {
                let (amount, direction) = if *skew_secs < 0 {
                    (skew_secs.unsigned_abs(), "in the past")
                } else {
                    (skew_secs.unsigned_abs(), "in the future")
                };
                write!(
                    f,
                    "rejected an envelope from {src}: its timestamp is {amount} s {direction} (limit {} s)",
                    MAX_CLOCK_SKEW.num_seconds()
                )
            }
            Rejection::Replayed { src, id } => {
                write!(
                    f,
                    "rejected envelope {id} from {src}: it was already received"
                )
            }
            Rejection::TtlExpired { src, id } => {
                write!(f, "dropped envelope {id} from {src}: its ttl is 0")
            }
        }
    }
}

/// Makes attacker-influenced text safe for a one-line log: no control characters, and short.
fn one_line(text: &str) -> String {
    const MAX: usize = 160;
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// The outcome of a failed [`Verifier::verify`].
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The envelope is refused; count it under [`Rejection::as_str`] and log its `Display`.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The replay check itself failed; nothing was decided about the envelope.
    #[error(transparent)]
    ReplayGuard(#[from] ReplayError),
}

impl VerifyError {
    /// The rejection, if the envelope was refused.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            VerifyError::Rejected(rejection) => Some(rejection),
            VerifyError::ReplayGuard(_) => None,
        }
    }
}

/// How the verifier knew the sender's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sender {
    /// A registered peer, verified with its stored key.
    Peer,
    /// An unregistered server introducing itself with `peer.hello`, verified with the key in its
    /// own card. Show the card to an admin for approval; do not trust it further.
    Unregistered(Box<Card>),
}

/// An envelope that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedEnvelope {
    envelope: Envelope,
    sender: Sender,
}

impl VerifiedEnvelope {
    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// How the sender's key was known.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The TTL a reply to this envelope carries, or `None` if a reply would arrive with zero.
    pub fn reply_ttl(&self) -> Option<Ttl> {
        self.envelope.ttl().for_reply()
    }

    /// A reply to this envelope: from its `dst` back to its `src`, with the incoming TTL minus
    /// one. `None` when that TTL would be zero, because the peer would drop the reply anyway.
    pub fn reply(
        &self,
        body: Body,
        now: DateTime<Utc>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Option<Envelope> {
        let ttl = self.reply_ttl()?;
        let envelope = &self.envelope;
        Some(
            Envelope::new(
                envelope.dst().clone(),
                envelope.src().clone(),
                body,
                now,
                rng,
            )
            .with_ttl(ttl),
        )
    }

    /// Takes the envelope and sender apart.
    pub fn into_parts(self) -> (Envelope, Sender) {
        (self.envelope, self.sender)
    }
}

static DISCORD_POLICY: LazyLock<WebhookPolicy> = LazyLock::new(WebhookPolicy::discord);

/// Checks inbound envelopes for one local server.
///
/// It is cheap to build, so one can be made per message from the server's state.
pub struct Verifier<'a, P: ?Sized, R: ?Sized> {
    local: &'a ServerName,
    sealing: &'a SealingSecret,
    peers: &'a P,
    replay: &'a R,
    policy: &'a WebhookPolicy,
}

impl<'a, P, R> Verifier<'a, P, R>
where
    P: PeerKeys + ?Sized,
    R: ReplayGuard + ?Sized,
{
    /// A verifier for envelopes addressed to `local`, which opens hello cards with `sealing`
    /// and accepts Discord's webhook hosts in them.
    pub fn new(
        local: &'a ServerName,
        sealing: &'a SealingSecret,
        peers: &'a P,
        replay: &'a R,
    ) -> Self {
        Self {
            local,
            sealing,
            peers,
            replay,
            policy: &DISCORD_POLICY,
        }
    }

    /// Accepts the webhook bases of `policy` in hello cards instead of Discord's.
    pub fn with_webhook_policy(mut self, policy: &'a WebhookPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Runs the whole pipeline on one message's content, with `now` as the receiver's clock.
    ///
    /// Only the replay step has a side effect (it records the id), and it runs after every
    /// check that does not depend on history, so a forged or misaddressed envelope records
    /// nothing.
    pub async fn verify(
        &self,
        content: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedEnvelope, VerifyError> {
        // 1. Size, before looking at a single byte of content.
        if content.len() > MAX_WIRE_BYTES {
            return Err(Rejection::TooLarge { len: content.len() }.into());
        }

        // 2. Parse the layout and the header; the body stays raw text.
        let (payload, signature) = split_wire(content).map_err(Rejection::malformed)?;
        let raw: PayloadIn<'_> = serde_json::from_str(payload).map_err(Rejection::malformed)?;
        if raw.v != PROTOCOL_VERSION {
            return Err(Rejection::malformed(format_args!(
                "unsupported protocol version {}",
                raw.v
            ))
            .into());
        }
        let src = ServerName::parse(&raw.src)
            .map_err(|e| Rejection::malformed(format_args!("src: {e}")))?;
        let dst = ServerName::parse(&raw.dst)
            .map_err(|e| Rejection::malformed(format_args!("dst: {e}")))?;
        let kind = Kind::parse(&raw.kind)
            .ok_or_else(|| Rejection::malformed(format_args!("unknown kind {:?}", raw.kind)))?;
        let id = EnvelopeId::parse(&raw.id)
            .map_err(|e| Rejection::malformed(format_args!("id: {e}")))?;

        // 3. Known sender.
        if src == *self.local {
            return Err(Rejection::OwnMessage.into());
        }
        let (key, sender) = match self.peers.verify_key(&src) {
            Some(key) => (key, Sender::Peer),
            None if kind == Kind::PeerHello => {
                let card = self.open_hello_card(&src, raw.body.get())?;
                (card.verify_key(), Sender::Unregistered(Box::new(card)))
            }
            None => return Err(Rejection::UnknownSrc { src }.into()),
        };

        // 4. Signature over the exact payload bytes; only then decode the body.
        if !key.verify(payload.as_bytes(), &signature) {
            return Err(Rejection::BadSignature { src }.into());
        }
        let body = Body::decode(kind, raw.body.get())
            .map_err(|e| Rejection::malformed(format_args!("{kind} body: {e}")))?;

        // 5. Addressed to this server.
        if dst != *self.local {
            return Err(Rejection::WrongDst { src, dst }.into());
        }

        // 6. Fresh. Saturating arithmetic keeps absurd timestamps from overflowing.
        let skew_secs = raw.ts.saturating_sub(now.timestamp());
        if skew_secs.unsigned_abs() > MAX_CLOCK_SKEW.num_seconds().unsigned_abs() {
            return Err(Rejection::Stale { src, skew_secs }.into());
        }
        let sent_at = Utc
            .timestamp_opt(raw.ts, 0)
            .single()
            .ok_or_else(|| Rejection::malformed("timestamp out of range"))?;

        // 7. Not seen before.
        if !self.replay.first_sighting(self.local, &id, sent_at).await? {
            return Err(Rejection::Replayed { src, id }.into());
        }

        // 8. Still allowed to travel.
        let ttl = Ttl::new(raw.ttl);
        if ttl.get() == 0 {
            return Err(Rejection::TtlExpired { src, id }.into());
        }

        Ok(VerifiedEnvelope {
            envelope: Envelope::from_parts(id, src, dst, ttl, raw.ts, body),
            sender,
        })
    }

    /// Opens the card in a `peer.hello` from an unregistered sender, to learn its key.
    fn open_hello_card(&self, src: &ServerName, body: &str) -> Result<Card, Rejection> {
        let bad = |reason: String| Rejection::BadCard {
            src: src.clone(),
            reason: one_line(&reason),
        };
        let hello: Hello = serde_json::from_str(body).map_err(|e| bad(e.to_string()))?;
        let card = hello
            .open(self.sealing, self.policy)
            .map_err(|e| bad(e.to_string()))?;
        if card.name() != src {
            return Err(bad(format!(
                "the card inside belongs to {}, not to the sender",
                card.name()
            )));
        }
        Ok(card)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_listed_and_unique() {
        let mut labels = Rejection::LABELS.to_vec();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Rejection::LABELS.len());
        assert_eq!(Rejection::OwnMessage.as_str(), "own_message");
    }

    #[test]
    fn malformed_reasons_are_one_short_line() {
        let rejection = Rejection::malformed(format_args!("a\nb{}", "c".repeat(500)));
        let text = rejection.to_string();
        assert!(!text.contains('\n'));
        assert!(text.chars().count() < 220);
    }

    #[tokio::test]
    async fn the_memory_guard_records_once_and_prunes_by_sent_time() {
        let guard = MemoryReplayGuard::default();
        let me = ServerName::parse("me").unwrap();
        let id = EnvelopeId::from_bytes([1; 16]);
        let t0 = Utc.timestamp_opt(1_000_000, 0).unwrap();
        assert!(guard.first_sighting(&me, &id, t0).await.unwrap());
        assert!(!guard.first_sighting(&me, &id, t0).await.unwrap());
        let other = ServerName::parse("other").unwrap();
        assert!(guard.first_sighting(&other, &id, t0).await.unwrap());
        guard.prune(t0);
        assert_eq!(guard.len(), 2);
        guard.prune(t0 + TimeDelta::seconds(1));
        assert!(guard.is_empty());
    }
}
