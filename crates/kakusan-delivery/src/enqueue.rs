//! Writing relay jobs: what the command and event handlers call, inside their transactions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kakusan_storage::outbox::{self, Coalesced, NewJob, Operation, Target};
use kakusan_storage::{PgConnection, StorageError};
use uuid::Uuid;

use super::payload::{EditPayload, EnvelopePayload, SendPayload};

/// Which message of which member goes to which destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayJob {
    /// Our server, where the member wrote.
    pub server_guild_id: u64,
    /// The destination (`destinations.id`).
    pub destination_id: i64,
    /// The destination's webhook: its lane.
    pub webhook_id: u64,
    /// The member.
    pub member_id: u64,
    /// The member's message.
    pub source_message_id: u64,
    /// The `/here` or mirrored post this job belongs to.
    pub relay_id: Option<Uuid>,
}

impl RelayJob {
    fn new_job<'a>(
        &self,
        operation: Operation,
        payload: &'a serde_json::Value,
        scheduled_for: Option<DateTime<Utc>>,
    ) -> NewJob<'a> {
        NewJob {
            server_guild_id: self.server_guild_id,
            lane: self.webhook_id,
            target: Target::Destination(self.destination_id),
            operation,
            source_message_id: Some(self.source_message_id),
            relay_id: self.relay_id,
            member_id: Some(self.member_id),
            payload,
            scheduled_for,
        }
    }
}

fn to_value(payload: &impl serde::Serialize) -> serde_json::Value {
    // The payload types hold only strings, numbers and lists: serialising cannot fail.
    serde_json::to_value(payload).expect("payloads serialise")
}

/// Queues a copy of the member's message, now or at `scheduled_for`.
pub async fn enqueue_send(
    connection: &mut PgConnection,
    job: &RelayJob,
    payload: &SendPayload,
    scheduled_for: Option<DateTime<Utc>>,
) -> Result<Coalesced, StorageError> {
    let payload = to_value(payload);
    outbox::enqueue_coalescing(
        connection,
        &job.new_job(Operation::Send, &payload, scheduled_for),
    )
    .await
}

/// Queues an edit of the delivered copy, held back for `delay` so that a burst of edits
/// becomes one call.
pub async fn enqueue_edit(
    connection: &mut PgConnection,
    job: &RelayJob,
    payload: &EditPayload,
    delay: Duration,
) -> Result<Coalesced, StorageError> {
    let payload = to_value(payload);
    let at = Utc::now() + delay;
    outbox::enqueue_coalescing(
        connection,
        &job.new_job(Operation::Edit, &payload, Some(at)),
    )
    .await
}

/// Queues the deletion of the delivered copy (or cancels its send if it is still queued).
pub async fn enqueue_delete(
    connection: &mut PgConnection,
    job: &RelayJob,
) -> Result<Coalesced, StorageError> {
    let payload = serde_json::json!({});
    outbox::enqueue_coalescing(connection, &job.new_job(Operation::Delete, &payload, None)).await
}

/// Where a `/here` shows in the channel it was typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The member's times in our server (`times.id`), through its webhook (`webhook_id`, the
    /// lane), so that it looks like the copies.
    Times {
        /// The times row.
        times_id: i64,
        /// Its webhook: the lane.
        webhook_id: u64,
    },
    /// Any other channel: the bot posts it there (the channel is the lane).
    Channel(u64),
}

/// A `/here`'s copy in the channel where it was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginJob {
    /// Our server, where the member typed it.
    pub server_guild_id: u64,
    /// The member.
    pub member_id: u64,
    /// What the relay's jobs name as the member's message (the interaction's id: a `/here`
    /// has no message of its own before this copy exists).
    pub source_message_id: u64,
    /// The relay.
    pub relay_id: Uuid,
    /// Where it shows.
    pub origin: Origin,
}

/// Queues a `/here`'s copy in the channel where it was typed: part of the relay like every
/// other copy, in the same transaction, so nothing of it shows before the relay is stored.
pub async fn enqueue_origin(
    connection: &mut PgConnection,
    job: &OriginJob,
    payload: &SendPayload,
    scheduled_for: Option<DateTime<Utc>>,
) -> Result<i64, StorageError> {
    let payload = to_value(payload);
    let (lane, target) = match job.origin {
        Origin::Times {
            times_id,
            webhook_id,
        } => (webhook_id, Target::Times(times_id)),
        Origin::Channel(channel) => (channel, Target::Channel(channel)),
    };
    outbox::enqueue(
        connection,
        &NewJob {
            server_guild_id: job.server_guild_id,
            lane,
            target,
            operation: Operation::Send,
            source_message_id: Some(job.source_message_id),
            relay_id: Some(job.relay_id),
            member_id: Some(job.member_id),
            payload: &payload,
            scheduled_for,
        },
    )
    .await
}

/// Queues the deletion of a webhook of ours that was replaced (a removed peer held it), so a
/// deletion that fails is retried like any call.
pub async fn enqueue_webhook_deletion(
    connection: &mut PgConnection,
    server_guild_id: u64,
    webhook_id: u64,
) -> Result<i64, StorageError> {
    enqueue_webhook_deletion_at(connection, server_guild_id, webhook_id, None).await
}

/// [`enqueue_webhook_deletion`], not before `scheduled_for` (`None` is now): a webhook that
/// peers still need for a while (to delete their copies through it after `/forget-me`).
pub async fn enqueue_webhook_deletion_at(
    connection: &mut PgConnection,
    server_guild_id: u64,
    webhook_id: u64,
    scheduled_for: Option<DateTime<Utc>>,
) -> Result<i64, StorageError> {
    let call = ServerCall {
        server_guild_id,
        lane: webhook_id,
        target: Target::Webhook(webhook_id),
        operation: Operation::DeleteWebhook,
        source_message_id: None,
        scheduled_for,
    };
    call.enqueue(connection, &serde_json::json!({})).await
}

/// Queues the removal of a message a peer posted through a member's times webhook here
/// (`/block`): deleted through that webhook, which needs no permission beyond holding it, and
/// retried like any call. It belongs to no member, so no member's pause holds it back.
pub async fn enqueue_removal(
    connection: &mut PgConnection,
    server_guild_id: u64,
    times_id: i64,
    webhook_id: u64,
    message_id: u64,
) -> Result<i64, StorageError> {
    let call = ServerCall {
        server_guild_id,
        lane: webhook_id,
        target: Target::Times(times_id),
        operation: Operation::Delete,
        source_message_id: Some(message_id),
        scheduled_for: None,
    };
    call.enqueue(connection, &serde_json::json!({})).await
}

/// Queues an envelope for a peer's master webhook (`webhook_id` is its lane).
pub async fn enqueue_envelope(
    connection: &mut PgConnection,
    server_guild_id: u64,
    peer_id: i64,
    webhook_id: u64,
    payload: &EnvelopePayload,
) -> Result<i64, StorageError> {
    let call = ServerCall {
        server_guild_id,
        lane: webhook_id,
        target: Target::Peer(peer_id),
        operation: Operation::Envelope,
        source_message_id: None,
        scheduled_for: None,
    };
    call.enqueue(connection, &to_value(payload)).await
}

/// A call the server makes on its own account, for no member and no relay, due now.
struct ServerCall {
    server_guild_id: u64,
    lane: u64,
    target: Target,
    operation: Operation,
    source_message_id: Option<u64>,
    scheduled_for: Option<DateTime<Utc>>,
}

impl ServerCall {
    async fn enqueue(
        &self,
        connection: &mut PgConnection,
        payload: &serde_json::Value,
    ) -> Result<i64, StorageError> {
        outbox::enqueue(
            connection,
            &NewJob {
                server_guild_id: self.server_guild_id,
                lane: self.lane,
                target: self.target,
                operation: self.operation,
                source_message_id: self.source_message_id,
                relay_id: None,
                member_id: None,
                payload,
                scheduled_for: self.scheduled_for,
            },
        )
        .await
    }
}
