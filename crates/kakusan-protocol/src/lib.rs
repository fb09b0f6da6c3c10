//! The kakusan federation protocol: server cards, signed envelopes, sealed secrets and chunked
//! syncs, and the verification pipeline that every inbound envelope passes before it has any
//! effect.
//!
//! This crate is the only place in kakusan that knows the wire format. It deliberately knows
//! nothing of Discord clients, of storage or of an async runtime, and its `Cargo.toml` keeps it
//! so (no tokio, sqlx, twilight or reqwest): the replay check and the peer lookup come in
//! through the [`ReplayGuard`] and [`PeerKeys`] traits (`kakusan-delivery` has the
//! database-backed guard). The byte-level format is specified in `docs/protocol.md` and pinned
//! by the golden vectors in `docs/vectors/`.
//!
//! A typical round trip:
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use kakusan_protocol::{
//!     Body, Envelope, MemoryReplayGuard, Ping, ServerKeys, ServerName, Verifier,
//! };
//! use std::collections::HashMap;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let mut rng = kakusan_protocol::rand_core::OsRng;
//! let alpha = ServerName::parse("alpha").unwrap();
//! let beta = ServerName::parse("beta").unwrap();
//! let alpha_keys = ServerKeys::generate(&mut rng);
//! let beta_keys = ServerKeys::generate(&mut rng);
//! let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
//!
//! // Alpha signs a ping for beta; the text is what goes into the Discord message.
//! let ping = Body::Ping(Ping::new(&mut rng, now));
//! let envelope = Envelope::new(alpha.clone(), beta.clone(), ping, now, &mut rng);
//! let wire = envelope.sign(alpha_keys.signing()).unwrap();
//!
//! // Beta knows alpha's verify key and checks the message.
//! let peers = HashMap::from([(alpha.clone(), alpha_keys.verify_key())]);
//! let replay = MemoryReplayGuard::default();
//! let verifier = Verifier::new(&beta, beta_keys.sealing(), &peers, &replay);
//! let verified = verifier.verify(wire.as_str(), now).await.unwrap();
//! assert_eq!(verified.envelope(), &envelope);
//!
//! // The same text a second time is a replay.
//! let again = verifier.verify(wire.as_str(), now).await.unwrap_err();
//! assert_eq!(again.rejection().unwrap().as_str(), "replayed");
//! # });
//! ```

mod card;
mod encoding;
mod envelope;
mod forget;
mod keys;
mod name;
mod seal;
mod sync;
mod verify;

pub use card::{CARD_PREFIX, Card, CardError};
pub use envelope::{
    Body, BodyError, DEFAULT_TTL, EncodeError, Envelope, EnvelopeId, EnvelopeIdError, EnvelopeText,
    Hello, Kind, LogLine, LogLineError, MAX_WIRE_BYTES, Nonce, PROTOCOL_VERSION, Ping, Pong,
    Registration, SyncChunk, TimesWithdraw, Ttl, sign_raw_payload,
};
pub use forget::{MemberForget, MemberForgotten};
pub use kakusan_types::{
    NameError, ServerName, Snowflake, SnowflakeError, WebhookPolicy, WebhookUrl, WebhookUrlError,
};
pub use keys::{KeyError, SealingKey, SealingSecret, ServerKeys, SigningSecret, VerifyKey};
pub use name::{DisplayName, DisplayNameError};
pub use seal::{SealError, SealedSecret};
pub use sync::{
    MAX_SYNC_CHUNKS, SyncAssembler, SyncError, reassemble_sync, split_sync, split_sync_with_ttl,
};
pub use verify::{
    MAX_CLOCK_SKEW, MemoryReplayGuard, PeerKeys, Rejection, ReplayError, ReplayGuard, Sender,
    VerifiedEnvelope, Verifier, VerifyError,
};

/// The random number generator traits this crate expects, re-exported so that callers use the
/// same `rand_core` version as `ed25519-dalek` and `crypto_box`.
pub use rand_core;
