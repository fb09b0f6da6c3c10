//! The delivery engine (SPEC §4): workers that drain the outbox through Discord webhooks.
//!
//! Every webhook call a relay needs is an outbox job, written by the caller in the same
//! transaction as the state that caused it ([`enqueue_send`] and friends). [`Delivery::run`]
//! claims ready jobs (the head of each webhook's lane, under a lease), makes the call through
//! twilight-http, whose ratelimiter obeys Discord's headers, and records the outcome: a
//! delivered job leaves the queue (a send also records its copy, so later edits and deletes
//! reach it); a transient failure retries with exponential backoff and jitter; a webhook that
//! is gone marks its destination broken and fails its queued jobs.
//!
//! It also holds the [`StoredReplayGuard`], the protocol's replay check on the database.
//!
//! This crate talks to Discord through twilight-http and to the database through the storage
//! crate's functions; it writes no SQL and no wire JSON (envelopes come from
//! `kakusan-protocol` as finished text).

mod call;
mod classify;
mod config;
mod download;
mod engine;
mod enqueue;
mod lease;
mod outage;
mod pacing;
mod payload;
mod record;
mod replay;

pub use classify::{discord_code, is_unknown_webhook};
pub use config::{DISCORD_CDN_HOSTS, DeliveryConfig};
pub use engine::Delivery;
pub use enqueue::{
    Origin, OriginJob, RelayJob, enqueue_delete, enqueue_edit, enqueue_envelope, enqueue_origin,
    enqueue_removal, enqueue_send, enqueue_webhook_deletion, enqueue_webhook_deletion_at,
};
pub use payload::{
    AttachmentLink, EditPayload, EnvelopePayload, SendPayload, USERNAME_MAX_CHARS,
    username_names_server, webhook_username,
};
pub use replay::StoredReplayGuard;
