//! Envelope v1: the signed message one server posts into another server's bot-com channel.
//!
//! The wire text is `<payload>\n<signature>`: the payload is compact, ASCII-only JSON and the
//! signature is the Ed25519 signature over exactly the payload's bytes, as 86 characters of
//! unpadded base64url. Verifying therefore never re-serialises anything; see `docs/protocol.md`.

use crate::WebhookPolicy;
use crate::card::Card;
use crate::encoding::{b64_decode_array, b64_encode, hex_decode_array, hex_encode, to_ascii_json};
use crate::forget::{MemberForget, MemberForgotten};
use crate::keys::{SealingKey, SealingSecret, SigningSecret};
use crate::name::DisplayName;
use crate::seal::{SealError, SealedSecret};
use crate::{ServerName, Snowflake};
use chrono::{DateTime, TimeZone as _, Utc};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The envelope format version this crate writes and accepts.
pub const PROTOCOL_VERSION: u8 = 1;

/// The largest wire text in bytes: a Discord message holds 2,000 characters, and the wire text
/// is ASCII, so bytes and characters are the same.
pub const MAX_WIRE_BYTES: usize = 2000;

/// The time-to-live a freshly originated envelope carries.
pub const DEFAULT_TTL: Ttl = Ttl(4);

/// Length of the signature's text form: 64 bytes in unpadded base64url.
pub(crate) const SIGNATURE_CHARS: usize = 86;

/// Why a text is not a valid [`EnvelopeId`] or [`Nonce`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an envelope id or nonce is 32 lower-case hexadecimal digits")]
pub struct EnvelopeIdError;

macro_rules! random_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Draws 16 random bytes.
            pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
                let mut bytes = [0u8; 16];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }

            /// Wraps 16 given bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// Parses the text form: 32 lower-case hexadecimal digits.
            pub fn parse(text: &str) -> Result<Self, EnvelopeIdError> {
                hex_decode_array(text).map(Self).ok_or(EnvelopeIdError)
            }

            /// The 16 bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex_encode(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex_encode(&self.0))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

random_id!(
    /// The random id of one envelope, used for the replay check. Its text form (32 lower-case
    /// hex digits, from `to_string()`) is what storage records.
    EnvelopeId
);

random_id!(
    /// A random 16-byte value that ties messages together: a ping to its pong, or the chunks
    /// of one sync.
    Nonce
);

/// The remaining number of hops an envelope may cause.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ttl(u8);

impl Ttl {
    /// Wraps a raw value; `0` is representable so that tests and vectors can build the
    /// envelopes a receiver must drop.
    pub const fn new(value: u8) -> Self {
        Self(value)
    }

    /// The raw value.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The TTL for a reply to or forward of an envelope that arrived with this TTL: one less.
    ///
    /// `None` means the result would be zero, which the receiver would drop, so the reply is not
    /// worth sending.
    pub fn for_reply(self) -> Option<Self> {
        match self.0.checked_sub(1) {
            Some(0) | None => None,
            Some(next) => Some(Self(next)),
        }
    }
}

impl Default for Ttl {
    fn default() -> Self {
        DEFAULT_TTL
    }
}

/// What an envelope is about; on the wire this is the `kind` field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    /// `peer.hello`: introduces the sender, with its card.
    PeerHello,
    /// `peer.bye`: the sender unregistered the receiver.
    PeerBye,
    /// `times.announce`: one member's times at the sender was added or changed.
    TimesAnnounce,
    /// `times.withdraw`: one member's times at the sender was removed.
    TimesWithdraw,
    /// `times.sync`: one chunk of the full list of the sender's times.
    TimesSync,
    /// `ping`: asks for a pong.
    Ping,
    /// `pong`: answers a ping.
    Pong,
    /// `log`: a line for the receiver's bot-com channel.
    Log,
    /// `member.forget`: a member left the sender with `/forget-me`.
    MemberForget,
    /// `member.forgotten`: answers a `member.forget`.
    MemberForgotten,
}

impl Kind {
    /// Every kind, in the order of the specification.
    pub const ALL: [Kind; 10] = [
        Kind::PeerHello,
        Kind::PeerBye,
        Kind::TimesAnnounce,
        Kind::TimesWithdraw,
        Kind::TimesSync,
        Kind::Ping,
        Kind::Pong,
        Kind::Log,
        Kind::MemberForget,
        Kind::MemberForgotten,
    ];

    /// The wire name, such as `times.announce`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PeerHello => "peer.hello",
            Kind::PeerBye => "peer.bye",
            Kind::TimesAnnounce => "times.announce",
            Kind::TimesWithdraw => "times.withdraw",
            Kind::TimesSync => "times.sync",
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::Log => "log",
            Kind::MemberForget => "member.forget",
            Kind::MemberForgotten => "member.forgotten",
        }
    }

    /// Looks a wire name up.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a body could not be built or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Sealing or opening a secret failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The opened card is not valid.
    #[error("the card inside the hello is invalid: {0}")]
    Card(#[from] crate::card::CardError),
    /// The opened card names another server than the envelope's `src`.
    #[error("the card inside the hello belongs to {card}, not to the sender {src}")]
    CardNameMismatch {
        /// The name in the card.
        card: ServerName,
        /// The envelope's `src`.
        src: ServerName,
    },
}

/// `peer.hello`: the sender's card, sealed to the receiver because it contains the sender's
/// master webhook URL.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// The sender's card text, sealed to the receiver's sealing key.
    pub card: SealedSecret,
}

impl Hello {
    /// Seals `card` to the receiver.
    pub fn seal(
        card: &Card,
        receiver: &SealingKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, BodyError> {
        let text = zeroize::Zeroizing::new(card.encode());
        Ok(Self {
            card: SealedSecret::seal(receiver, text.as_bytes(), rng)?,
        })
    }

    /// Opens and parses the card with the receiver's secret.
    pub fn open(&self, secret: &SealingSecret, policy: &WebhookPolicy) -> Result<Card, BodyError> {
        let plain = self.card.open(secret)?;
        let text = std::str::from_utf8(&plain).map_err(|_| SealError::NotText)?;
        Ok(Card::parse(text, policy)?)
    }
}

/// One member's times at the sender: who, under which name, in which channel, and the sealed
/// webhook that posts there.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The member's Discord user id.
    pub member: Snowflake,
    /// The member's display name at the sender.
    pub name: DisplayName,
    /// The times channel's id at the sender: the channel that holds the webhook.
    pub channel: Snowflake,
    /// The thread or forum post in `channel` that is the times, if it is one: every call
    /// through the webhook names it (Discord's `thread_id`). Absent on the wire when `None`,
    /// so a registration without a thread reads as it always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Snowflake>,
    /// The times channel's webhook URL, sealed to the receiver.
    pub hook: SealedSecret,
}

/// `times.withdraw`: the member's times at the sender is gone.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimesWithdraw {
    /// The member's Discord user id.
    pub member: Snowflake,
}

/// `times.sync`: chunk `index` of `count` of the sender's full list of times.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "SyncChunkWire")]
pub struct SyncChunk {
    sync: Nonce,
    index: u32,
    count: u32,
    regs: Vec<Registration>,
}

/// The unchecked shape of a [`SyncChunk`], checked by `TryFrom` during deserialisation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncChunkWire {
    sync: Nonce,
    index: u32,
    count: u32,
    regs: Vec<Registration>,
}

impl TryFrom<SyncChunkWire> for SyncChunk {
    type Error = String;

    fn try_from(wire: SyncChunkWire) -> Result<Self, Self::Error> {
        SyncChunk::new(wire.sync, wire.index, wire.count, wire.regs).ok_or_else(|| {
            format!(
                "chunk index {} is not below count {}",
                wire.index, wire.count
            )
        })
    }
}

impl SyncChunk {
    /// Builds a chunk; `None` unless `index < count`.
    pub fn new(sync: Nonce, index: u32, count: u32, regs: Vec<Registration>) -> Option<Self> {
        (index < count).then_some(Self {
            sync,
            index,
            count,
            regs,
        })
    }

    /// The id shared by all chunks of one sync.
    pub fn sync_id(&self) -> Nonce {
        self.sync
    }

    /// This chunk's position, from zero.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many chunks the sync has (at least one, even for an empty list).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The registrations in this chunk.
    pub fn registrations(&self) -> &[Registration] {
        &self.regs
    }

    /// Takes the registrations out.
    pub fn into_registrations(self) -> Vec<Registration> {
        self.regs
    }
}

/// `ping` and `pong`: a nonce and the sender's clock when it sent the message.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    /// Random for a ping; a pong repeats the ping's nonce.
    pub nonce: Nonce,
    /// When this message was sent, in milliseconds since the Unix epoch.
    pub sent_ms: i64,
}

/// A pong has the same shape as a ping: the ping's nonce and the pong's own send time.
pub type Pong = Ping;

impl Ping {
    /// A fresh ping sent at `now`.
    pub fn new(rng: &mut impl CryptoRngCore, now: DateTime<Utc>) -> Self {
        Self {
            nonce: Nonce::generate(rng),
            sent_ms: now.timestamp_millis(),
        }
    }

    /// The pong that answers this ping, sent at `now`.
    pub fn answer(&self, now: DateTime<Utc>) -> Pong {
        Self {
            nonce: self.nonce,
            sent_ms: now.timestamp_millis(),
        }
    }
}

/// Why a text is not a valid [`LogLine`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogLineError {
    /// The line is empty or longer than [`LogLine::MAX_CHARS`].
    #[error("a log line must be 1 to 1000 characters long, but this one has {0}")]
    Length(usize),
    /// The line contains a line break or another control character.
    #[error("a log line cannot contain line breaks or other control characters")]
    Control,
}

/// `log`: one human-readable line for the receiver's bot-com channel.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "LogLineWire")]
pub struct LogLine {
    line: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLineWire {
    line: String,
}

impl TryFrom<LogLineWire> for LogLine {
    type Error = LogLineError;

    fn try_from(wire: LogLineWire) -> Result<Self, Self::Error> {
        Self::parse(&wire.line)
    }
}

impl LogLine {
    /// The longest accepted line, in Unicode scalar values.
    pub const MAX_CHARS: usize = 1000;

    /// Parses and validates one line.
    pub fn parse(text: &str) -> Result<Self, LogLineError> {
        let chars = text.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(LogLineError::Length(chars));
        }
        if text.chars().any(char::is_control) {
            return Err(LogLineError::Control);
        }
        Ok(Self {
            line: text.to_owned(),
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.line
    }
}

/// The empty body of `peer.bye`: exactly `{}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// An envelope's body, one variant per [`Kind`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Body {
    /// `peer.hello`.
    PeerHello(Hello),
    /// `peer.bye`.
    PeerBye,
    /// `times.announce`.
    TimesAnnounce(Registration),
    /// `times.withdraw`.
    TimesWithdraw(TimesWithdraw),
    /// `times.sync`.
    TimesSync(SyncChunk),
    /// `ping`.
    Ping(Ping),
    /// `pong`.
    Pong(Pong),
    /// `log`.
    Log(LogLine),
    /// `member.forget`.
    MemberForget(MemberForget),
    /// `member.forgotten`.
    MemberForgotten(MemberForgotten),
}

impl Body {
    /// The kind this body belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Body::PeerHello(_) => Kind::PeerHello,
            Body::PeerBye => Kind::PeerBye,
            Body::TimesAnnounce(_) => Kind::TimesAnnounce,
            Body::TimesWithdraw(_) => Kind::TimesWithdraw,
            Body::TimesSync(_) => Kind::TimesSync,
            Body::Ping(_) => Kind::Ping,
            Body::Pong(_) => Kind::Pong,
            Body::Log(_) => Kind::Log,
            Body::MemberForget(_) => Kind::MemberForget,
            Body::MemberForgotten(_) => Kind::MemberForgotten,
        }
    }

    /// Decodes the body JSON of an envelope of `kind`.
    pub(crate) fn decode(kind: Kind, json: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            Kind::PeerHello => Body::PeerHello(serde_json::from_str(json)?),
            Kind::PeerBye => {
                let Empty {} = serde_json::from_str(json)?;
                Body::PeerBye
            }
            Kind::TimesAnnounce => Body::TimesAnnounce(serde_json::from_str(json)?),
            Kind::TimesWithdraw => Body::TimesWithdraw(serde_json::from_str(json)?),
            Kind::TimesSync => Body::TimesSync(serde_json::from_str(json)?),
            Kind::Ping => Body::Ping(serde_json::from_str(json)?),
            Kind::Pong => Body::Pong(serde_json::from_str(json)?),
            Kind::Log => Body::Log(serde_json::from_str(json)?),
            Kind::MemberForget => Body::MemberForget(serde_json::from_str(json)?),
            Kind::MemberForgotten => Body::MemberForgotten(serde_json::from_str(json)?),
        })
    }
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Body::PeerHello(hello) => hello.serialize(serializer),
            Body::PeerBye => Empty {}.serialize(serializer),
            Body::TimesAnnounce(registration) => registration.serialize(serializer),
            Body::TimesWithdraw(withdraw) => withdraw.serialize(serializer),
            Body::TimesSync(chunk) => chunk.serialize(serializer),
            Body::Ping(ping) | Body::Pong(ping) => ping.serialize(serializer),
            Body::Log(line) => line.serialize(serializer),
            Body::MemberForget(forget) => forget.serialize(serializer),
            Body::MemberForgotten(forgotten) => forgotten.serialize(serializer),
        }
    }
}

/// Why an envelope could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The signed wire text would not fit in one Discord message.
    #[error("the envelope is {0} bytes long, more than the {MAX_WIRE_BYTES} a message holds")]
    TooLarge(usize),
    /// Serialising the payload failed.
    #[error("the envelope could not be serialised")]
    Json(#[from] serde_json::Error),
}

/// An envelope's content: header fields and typed body.
///
/// Build one with [`Envelope::new`] and turn it into wire text with [`Envelope::sign`]; the
/// verifier hands back the same type inside a [`crate::VerifiedEnvelope`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Envelope {
    id: EnvelopeId,
    src: ServerName,
    dst: ServerName,
    ttl: Ttl,
    ts: i64,
    body: Body,
}

/// The payload as written: field order is fixed so that the golden vectors are reproducible.
#[derive(Serialize)]
struct PayloadOut<'a> {
    v: u8,
    id: &'a EnvelopeId,
    src: &'a ServerName,
    dst: &'a ServerName,
    kind: &'static str,
    ttl: Ttl,
    ts: i64,
    body: &'a Body,
}

/// The payload as read before the signature is checked: plain fields and the body as raw text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadIn<'a> {
    pub(crate) v: u8,
    #[serde(borrow)]
    pub(crate) id: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) src: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) dst: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) kind: Cow<'a, str>,
    pub(crate) ttl: u8,
    pub(crate) ts: i64,
    #[serde(borrow)]
    pub(crate) body: &'a RawValue,
}

impl Envelope {
    /// A new envelope from `src` to `dst`, sent at `now`, with a random id and the default TTL.
    pub fn new(
        src: ServerName,
        dst: ServerName,
        body: Body,
        now: DateTime<Utc>,
        rng: &mut impl CryptoRngCore,
    ) -> Self {
        Self {
            id: EnvelopeId::generate(rng),
            src,
            dst,
            ttl: DEFAULT_TTL,
            ts: now.timestamp(),
            body,
        }
    }

    /// The same envelope with another TTL, for replies (see [`Ttl::for_reply`]).
    pub fn with_ttl(mut self, ttl: Ttl) -> Self {
        self.ttl = ttl;
        self
    }

    /// The same envelope with a given id, for reproducible test vectors.
    pub fn with_id(mut self, id: EnvelopeId) -> Self {
        self.id = id;
        self
    }

    pub(crate) fn from_parts(
        id: EnvelopeId,
        src: ServerName,
        dst: ServerName,
        ttl: Ttl,
        ts: i64,
        body: Body,
    ) -> Self {
        Self {
            id,
            src,
            dst,
            ttl,
            ts,
            body,
        }
    }

    /// The payload JSON that gets signed.
    pub fn payload(&self) -> Result<String, serde_json::Error> {
        to_ascii_json(&PayloadOut {
            v: PROTOCOL_VERSION,
            id: &self.id,
            src: &self.src,
            dst: &self.dst,
            kind: self.body.kind().as_str(),
            ttl: self.ttl,
            ts: self.ts,
            body: &self.body,
        })
    }

    /// Signs the envelope and returns its wire text, refusing text that would not fit in one
    /// Discord message.
    pub fn sign(&self, key: &SigningSecret) -> Result<EnvelopeText, EncodeError> {
        let payload = self.payload()?;
        let len = payload.len() + 1 + SIGNATURE_CHARS;
        if len > MAX_WIRE_BYTES {
            return Err(EncodeError::TooLarge(len));
        }
        let signature = key.sign(payload.as_bytes());
        let mut text = payload;
        text.reserve_exact(1 + SIGNATURE_CHARS);
        text.push('\n');
        text.push_str(&b64_encode(&signature));
        Ok(EnvelopeText(text))
    }

    /// The random id.
    pub fn id(&self) -> EnvelopeId {
        self.id
    }

    /// The sending server.
    pub fn src(&self) -> &ServerName {
        &self.src
    }

    /// The receiving server.
    pub fn dst(&self) -> &ServerName {
        &self.dst
    }

    /// The remaining hops.
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// When the sender made the envelope, to the second.
    pub fn sent_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.ts, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The raw timestamp in seconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.ts
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Takes the body out.
    pub fn into_body(self) -> Body {
        self.body
    }
}

/// A signed envelope's wire text: what goes into the Discord message content.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EnvelopeText(String);

impl EnvelopeText {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The length in bytes (and characters, since it is ASCII).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true for a signed envelope; present for API completeness.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text, taken out.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EnvelopeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Signs an arbitrary payload text and returns `payload + "\n" + signature` without checking
/// anything.
///
/// Real senders use [`Envelope::sign`]. This exists so that tests, fuzzers and the golden-vector
/// generator can build envelopes whose payload is deliberately odd but correctly signed.
pub fn sign_raw_payload(payload: &str, key: &SigningSecret) -> String {
    let signature = key.sign(payload.as_bytes());
    format!("{payload}\n{}", b64_encode(&signature))
}

/// Splits wire text into the payload and the decoded signature.
///
/// The text must contain exactly one line feed, followed by exactly 86 characters of strict
/// base64url.
pub(crate) fn split_wire(text: &str) -> Result<(&str, [u8; 64]), &'static str> {
    let (payload, signature) = text
        .split_once('\n')
        .ok_or("there is no line break between payload and signature")?;
    if signature.len() != SIGNATURE_CHARS {
        return Err("the signature is not 86 characters long");
    }
    let signature =
        b64_decode_array::<64>(signature).ok_or("the signature is not valid base64url")?;
    Ok((payload, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_wire_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("Ping"), None);
    }

    #[test]
    fn ttl_for_reply_counts_down_and_stops_before_zero() {
        assert_eq!(DEFAULT_TTL.get(), 4);
        assert_eq!(Ttl::new(4).for_reply(), Some(Ttl::new(3)));
        assert_eq!(Ttl::new(2).for_reply(), Some(Ttl::new(1)));
        assert_eq!(Ttl::new(1).for_reply(), None);
        assert_eq!(Ttl::new(0).for_reply(), None);
    }

    #[test]
    fn ids_have_one_text_form() {
        let id = EnvelopeId::from_bytes([0xab; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(EnvelopeId::parse(&id.to_string()), Ok(id));
        assert_eq!(EnvelopeId::parse(&"AB".repeat(16)), Err(EnvelopeIdError));
    }

    #[test]
    fn sync_chunks_need_an_index_below_the_count() {
        let sync = Nonce::from_bytes([1; 16]);
        assert!(SyncChunk::new(sync, 0, 1, vec![]).is_some());
        assert!(SyncChunk::new(sync, 1, 1, vec![]).is_none());
        let json = format!(r#"{{"sync":"{sync}","index":2,"count":2,"regs":[]}}"#);
        assert!(Body::decode(Kind::TimesSync, &json).is_err());
    }

    #[test]
    fn log_lines_are_single_lines() {
        assert!(LogLine::parse("peer beta accepted").is_ok());
        assert_eq!(LogLine::parse("a\nb"), Err(LogLineError::Control));
        assert_eq!(LogLine::parse(""), Err(LogLineError::Length(0)));
        assert!(Body::decode(Kind::Log, r#"{"line":"a\nb"}"#).is_err());
    }

    #[test]
    fn bodies_refuse_unknown_fields() {
        assert!(Body::decode(Kind::PeerBye, "{}").is_ok());
        assert!(Body::decode(Kind::PeerBye, r#"{"x":1}"#).is_err());
        assert!(Body::decode(Kind::TimesWithdraw, r#"{"member":"1","x":1}"#).is_err());
    }

    #[test]
    fn forget_bodies_parse_strictly_and_the_answer_repeats_the_request() {
        let request = Nonce::from_bytes([7; 16]);
        let json = format!(r#"{{"member":"400000000000000001","request":"{request}"}}"#);
        let Ok(Body::MemberForget(forget)) = Body::decode(Kind::MemberForget, &json) else {
            panic!("a member.forget body");
        };
        assert_eq!(forget.member.get(), 400_000_000_000_000_001);
        let answer = Body::MemberForgotten(forget.answer(3));
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            format!(r#"{{"member":"400000000000000001","request":"{request}","copies":3}}"#)
        );
        assert_eq!(
            Body::decode(
                Kind::MemberForgotten,
                &serde_json::to_string(&answer).unwrap()
            )
            .unwrap(),
            answer
        );
        // Unknown fields, a numeric member, a negative count and a missing request are refused.
        for (kind, bad) in [
            (
                Kind::MemberForget,
                format!(r#"{{"member":"1","request":"{request}","x":1}}"#),
            ),
            (
                Kind::MemberForget,
                format!(r#"{{"member":1,"request":"{request}"}}"#),
            ),
            (Kind::MemberForget, r#"{"member":"1"}"#.to_owned()),
            (
                Kind::MemberForgotten,
                format!(r#"{{"member":"1","request":"{request}","copies":-1}}"#),
            ),
        ] {
            assert!(Body::decode(kind, &bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn oversized_envelopes_are_refused_when_signing() {
        let key = SigningSecret::from_seed([1; 32]);
        let line = LogLine::parse(&"é".repeat(400)).unwrap();
        let envelope = Envelope::from_parts(
            EnvelopeId::from_bytes([0; 16]),
            ServerName::parse("ab").unwrap(),
            ServerName::parse("cd").unwrap(),
            DEFAULT_TTL,
            0,
            Body::Log(line),
        );
        // Each "é" becomes the six characters \u00e9 on the wire.
        assert!(matches!(envelope.sign(&key), Err(EncodeError::TooLarge(_))));
    }
}
