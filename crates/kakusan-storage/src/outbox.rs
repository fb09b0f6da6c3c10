//! The outbox: one row per webhook call still to make.
//!
//! Jobs are grouped in lanes, one lane per webhook: a lane's jobs run one at a time, in
//! `(scheduled_for, id)` order, and a job waiting for a retry keeps its place, so a member's
//! messages arrive in the order they were written. Different lanes run concurrently. A worker
//! claims the head of each ready lane with `FOR UPDATE SKIP LOCKED` and holds it under a lease;
//! a worker that dies lets its lease run out and another takes the job over.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::StorageError;
use crate::ids::{OptionalId, sf};

mod claim;

pub use claim::{ClaimedDestination, ClaimedJob, Endpoint, Webhook, claim};

/// The Postgres channel that a new job notifies (its payload is the lane).
pub const NOTIFY_CHANNEL: &str = "kakusan_outbox";

/// What a job does with its webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Execute the webhook with a copy of the member's message.
    Send,
    /// Edit a delivered copy.
    Edit,
    /// Delete a delivered copy.
    Delete,
    /// Post a signed envelope through a peer's master webhook.
    Envelope,
    /// Delete a webhook of ours that was rotated away.
    DeleteWebhook,
}

impl Operation {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Send => "send",
            Operation::Edit => "edit",
            Operation::Delete => "delete",
            Operation::Envelope => "envelope",
            Operation::DeleteWebhook => "delete_webhook",
        }
    }
}

impl TryFrom<String> for Operation {
    type Error = StorageError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.as_str() {
            "send" => Ok(Operation::Send),
            "edit" => Ok(Operation::Edit),
            "delete" => Ok(Operation::Delete),
            "envelope" => Ok(Operation::Envelope),
            "delete_webhook" => Ok(Operation::DeleteWebhook),
            _ => Err(StorageError::CorruptRow("job operation")),
        }
    }
}

/// Whose webhook a job calls, or where the bot posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A member's destination (its times webhook at a peer).
    Destination(i64),
    /// A peer's master webhook.
    Peer(i64),
    /// A member's times in our own server, by row id: a `/here`'s copy in the channel where
    /// it was typed, when that is the member's times.
    Times(i64),
    /// A channel of our own server the bot posts in: a `/here`'s copy in any other channel.
    Channel(u64),
    /// A webhook of ours, by id: one to delete.
    Webhook(u64),
}

/// A job to enqueue.
#[derive(Debug)]
pub struct NewJob<'a> {
    /// Our server the job belongs to.
    pub server_guild_id: u64,
    /// The webhook id the job calls: its jobs run in order, one at a time.
    pub lane: u64,
    /// Whose webhook that is.
    pub target: Target,
    /// What to do.
    pub operation: Operation,
    /// The member's message the job copies, edits or deletes (`None` for envelopes).
    pub source_message_id: Option<u64>,
    /// The `/here` or mirrored message this job is part of.
    pub relay_id: Option<Uuid>,
    /// The member whose relay it is (who may cancel it).
    pub member_id: Option<u64>,
    /// What the call sends; the delivery engine owns its shape.
    pub payload: &'a serde_json::Value,
    /// Not before this time (`/here at:`); `None` is now.
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// A job as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    /// The row id.
    pub id: i64,
    /// Our server.
    #[sqlx(try_from = "i64")]
    pub server_guild_id: u64,
    /// The webhook id the job calls.
    #[sqlx(try_from = "i64")]
    pub lane: u64,
    /// The destination, when the job relays a member's message.
    pub destination_id: Option<i64>,
    /// The peer, when the job posts an envelope.
    pub peer_id: Option<i64>,
    /// The member's times here, when the job shows a `/here` in it.
    pub times_id: Option<i64>,
    /// The channel the bot posts a `/here` in.
    #[sqlx(try_from = "OptionalId")]
    pub channel_id: Option<u64>,
    /// The webhook of ours a job deletes.
    #[sqlx(try_from = "OptionalId")]
    pub webhook_id: Option<u64>,
    /// What to do.
    #[sqlx(try_from = "String")]
    pub operation: Operation,
    /// The member's message.
    #[sqlx(try_from = "OptionalId")]
    pub source_message_id: Option<u64>,
    /// The relay the job is part of.
    pub relay_id: Option<Uuid>,
    /// The member.
    #[sqlx(try_from = "OptionalId")]
    pub member_id: Option<u64>,
    /// What the call sends.
    pub payload: serde_json::Value,
    /// Not before this time; also the job's place in its lane.
    pub scheduled_for: DateTime<Utc>,
    /// Not before this time either: the backoff after a transient failure.
    pub retry_at: DateTime<Utc>,
    /// How many times a worker claimed it.
    pub attempts: i32,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// Until when a worker holds it.
    pub leased_until: Option<DateTime<Utc>>,
    /// Which worker holds it.
    pub leased_by: Option<String>,
    /// When it failed for good.
    pub failed_at: Option<DateTime<Utc>>,
    /// Whether it waits for its member's `/resume` (see [`crate::pauses`]).
    pub paused: bool,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
}

impl Job {
    /// Whose webhook the job calls.
    pub fn target(&self) -> Target {
        // The table's check constraint guarantees exactly one of the five.
        match (
            self.destination_id,
            self.peer_id,
            self.times_id,
            self.webhook_id,
            self.channel_id,
        ) {
            (Some(destination), ..) => Target::Destination(destination),
            (_, Some(peer), ..) => Target::Peer(peer),
            (_, _, Some(times), ..) => Target::Times(times),
            (_, _, _, Some(webhook), _) => Target::Webhook(webhook),
            (.., channel) => Target::Channel(channel.unwrap_or_default()),
        }
    }
}

/// A connection that LISTENs on [`NOTIFY_CHANNEL`]: it wakes a worker when a job is enqueued.
pub struct OutboxListener(sqlx::postgres::PgListener);

impl OutboxListener {
    /// Starts listening.
    pub async fn connect(pool: &sqlx::PgPool) -> Result<Self, StorageError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        Ok(OutboxListener(listener))
    }

    /// Waits for the next new job and returns its lane. A lost connection is re-established
    /// here; notifications sent meanwhile are lost, which is why workers also poll.
    pub async fn recv(&mut self) -> Result<u64, StorageError> {
        let notification = self.0.recv().await?;
        Ok(notification.payload().parse().unwrap_or_default())
    }
}

/// Enqueues a job; workers listening on [`NOTIFY_CHANNEL`] wake when the transaction commits.
pub async fn enqueue(executor: impl PgExecutor<'_>, job: &NewJob<'_>) -> Result<i64, StorageError> {
    let (mut destination_id, mut peer_id, mut times_id, mut channel_id, mut webhook_id) =
        (None, None, None, None, None);
    match job.target {
        Target::Destination(id) => destination_id = Some(id),
        Target::Peer(id) => peer_id = Some(id),
        Target::Times(id) => times_id = Some(id),
        Target::Channel(id) => channel_id = Some(sf(id)?),
        Target::Webhook(id) => webhook_id = Some(sf(id)?),
    }
    let result = sqlx::query_scalar(
        "INSERT INTO outbox_jobs (server_guild_id, lane, destination_id, peer_id, times_id,
                                  channel_id, webhook_id, operation, source_message_id, relay_id,
                                  member_id, payload, scheduled_for)
         VALUES ($1, $2, $3, $4, $11, $12, $13, $5, $6, $7, $8, $9, coalesce($10, now()))
         RETURNING id",
    )
    .bind(sf(job.server_guild_id)?)
    .bind(sf(job.lane)?)
    .bind(destination_id)
    .bind(peer_id)
    .bind(job.operation.as_str())
    .bind(job.source_message_id.map(sf).transpose()?)
    .bind(job.relay_id)
    .bind(job.member_id.map(sf).transpose()?)
    .bind(job.payload)
    .bind(job.scheduled_for)
    .bind(times_id)
    .bind(channel_id)
    .bind(webhook_id)
    .fetch_one(executor)
    .await;
    match result {
        Ok(id) => Ok(id),
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            Err(StorageError::NotFound("job target"))
        }
        Err(other) => Err(other.into()),
    }
}

/// What became of a relay job handed to [`enqueue_coalescing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coalesced {
    /// Nothing to merge with: a new job.
    Enqueued(i64),
    /// Merged into the queued job with this id (send + send, edit + edit, send + edit,
    /// edit + delete); that job keeps its place in its lane.
    Merged(i64),
    /// Dropped: the queued job already does what it asked (delete + edit, delete + delete).
    Discarded(i64),
    /// A delete that met its send still queued: the send was removed and nothing will be
    /// called at all.
    Annulled(i64),
}

/// Enqueues a relay job (send, edit or delete of a member's message at one destination),
/// collapsing it with the job still queued for the same message and destination (SPEC §4):
///
/// - send + send: the newer replaces the older;
/// - send + edit: the edit is applied to the queued send, which then sends the edited message;
/// - edit + edit: merged into one edit, the newer fields winning;
/// - edit + delete: the delete replaces the edit;
/// - delete + edit, delete + delete: the newer is dropped;
/// - send + delete: the send is removed and no call is made, unless a copy may already exist
///   (delivered before, or a send of it in flight), in which case the delete is kept.
///
/// A job that a worker holds is never touched: the row lock taken here and the one `claim`
/// takes exclude each other, so a job is either merged before it is claimed or left alone and
/// followed by a new job. Envelope jobs are enqueued as they are. Runs in a savepoint of its
/// own, so it can join the caller's transaction.
pub async fn enqueue_coalescing(
    connection: &mut sqlx::PgConnection,
    job: &NewJob<'_>,
) -> Result<Coalesced, StorageError> {
    use sqlx::Connection;

    let (Target::Destination(destination_id), Some(source)) = (job.target, job.source_message_id)
    else {
        return Ok(Coalesced::Enqueued(enqueue(connection, job).await?));
    };
    let mut tx = connection.begin().await?;
    // The newest job of this message and destination that no worker holds.
    let queued: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, operation FROM outbox_jobs
         WHERE destination_id = $1 AND source_message_id = $2
           AND failed_at IS NULL AND leased_by IS NULL
         ORDER BY scheduled_for DESC, id DESC
         LIMIT 1
         FOR UPDATE",
    )
    .bind(destination_id)
    .bind(sf(source)?)
    .fetch_optional(&mut *tx)
    .await?;
    let queued = match queued {
        Some((id, operation)) => Some((id, Operation::try_from(operation)?)),
        None => None,
    };
    let outcome = match (queued, job.operation) {
        (Some((id, Operation::Send)), Operation::Send) => {
            set_payload(&mut tx, id, job.payload, "$2").await?;
            Coalesced::Merged(id)
        }
        (Some((id, Operation::Send | Operation::Edit)), Operation::Edit) => {
            set_payload(&mut tx, id, job.payload, "payload || $2").await?;
            Coalesced::Merged(id)
        }
        (Some((id, Operation::Edit)), Operation::Delete) => {
            sqlx::query("UPDATE outbox_jobs SET operation = 'delete', payload = $2 WHERE id = $1")
                .bind(id)
                .bind(job.payload)
                .execute(&mut *tx)
                .await?;
            Coalesced::Merged(id)
        }
        (Some((id, Operation::Delete)), Operation::Edit | Operation::Delete) => {
            Coalesced::Discarded(id)
        }
        (Some((id, Operation::Send)), Operation::Delete) => {
            sqlx::query("DELETE FROM outbox_jobs WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            // A copy may exist already: delivered by an earlier send, or being sent right now.
            let copy_may_exist: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM copies
                                WHERE destination_id = $1 AND source_message_id = $2)
                     OR EXISTS (SELECT 1 FROM outbox_jobs
                                WHERE destination_id = $1 AND source_message_id = $2
                                  AND operation = 'send' AND leased_by IS NOT NULL)",
            )
            .bind(destination_id)
            .bind(sf(source)?)
            .fetch_one(&mut *tx)
            .await?;
            if copy_may_exist {
                Coalesced::Enqueued(enqueue(&mut *tx, job).await?)
            } else {
                Coalesced::Annulled(id)
            }
        }
        _ => Coalesced::Enqueued(enqueue(&mut *tx, job).await?),
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Replaces (`$2`) or merges (`payload || $2`) a queued job's payload.
///
/// The merge is storage's one piece of payload knowledge: payloads are JSON objects, and an
/// edit's top-level fields replace those of the same name in the queued job (the delivery
/// crate names `EditPayload`'s fields after `SendPayload`'s for this). It stays here rather
/// than in the delivery crate because it must happen under the row lock this transaction holds
/// on the queued job, which `claim` waits on; doing it in Rust would mean reading the payload
/// out and handing the merged one back through a callback, for the same `||`.
async fn set_payload(
    connection: &mut sqlx::PgConnection,
    id: i64,
    payload: &serde_json::Value,
    expression: &'static str,
) -> Result<(), StorageError> {
    let sql = format!("UPDATE outbox_jobs SET payload = {expression} WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(payload)
        .execute(connection)
        .await?;
    Ok(())
}

/// Extends `worker`'s leases on `job_ids` by `lease` from now, for calls that take longer than
/// a lease (a long rate-limit wait). Returns how many leases the worker still held.
pub async fn renew_leases(
    executor: impl PgExecutor<'_>,
    worker: &str,
    job_ids: &[i64],
    lease: Duration,
) -> Result<u64, StorageError> {
    let result = sqlx::query(
        "UPDATE outbox_jobs SET leased_until = now() + make_interval(secs => $3)
         WHERE id = ANY($1) AND leased_by = $2",
    )
    .bind(job_ids)
    .bind(worker)
    .bind(lease.as_secs_f64())
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Removes a delivered job. Returns `false` when `worker` no longer holds it (its lease ran
/// out and another worker took it over, or it was cancelled), so the caller knows.
pub async fn complete(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    worker: &str,
) -> Result<bool, StorageError> {
    let result = sqlx::query("DELETE FROM outbox_jobs WHERE id = $1 AND leased_by = $2")
        .bind(job_id)
        .bind(worker)
        .execute(executor)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// What a finished relay job changes in the copy map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyChange {
    /// A send delivered a copy: remember where. A send that ran twice keeps the newest, as
    /// [`copies::record_copy`](crate::copies::record_copy) does.
    Record {
        /// The destination the copy was delivered to.
        destination_id: i64,
        /// The member's message.
        source_message_id: u64,
        /// The copy.
        copy_message_id: u64,
    },
    /// A delete removed the copy, or found it gone already: forget it.
    Forget {
        /// The destination the copy was at.
        destination_id: i64,
        /// The member's message.
        source_message_id: u64,
    },
}

/// Removes a delivered job and applies `change` to the copy map, in one statement: the copy
/// map and the queue change together, and a delivered send costs one round trip instead of a
/// transaction's four. Returns `false` when `worker` no longer holds the job; the copy map
/// changes all the same, since the call was made.
pub async fn complete_with_copy(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    worker: &str,
    change: CopyChange,
) -> Result<bool, StorageError> {
    // A data-modifying WITH runs to completion whether or not the final SELECT reads it.
    let query = match change {
        CopyChange::Record {
            destination_id,
            source_message_id,
            copy_message_id,
        } => sqlx::query_scalar(
            "WITH copy AS (
                 INSERT INTO copies (destination_id, source_message_id, copy_message_id)
                 VALUES ($3, $4, $5)
                 ON CONFLICT (destination_id, source_message_id)
                 DO UPDATE SET copy_message_id = EXCLUDED.copy_message_id,
                               delivered_at = now()),
             done AS (DELETE FROM outbox_jobs WHERE id = $1 AND leased_by = $2 RETURNING id)
             SELECT EXISTS (SELECT 1 FROM done)",
        )
        .bind(job_id)
        .bind(worker)
        .bind(destination_id)
        .bind(sf(source_message_id)?)
        .bind(sf(copy_message_id)?),
        CopyChange::Forget {
            destination_id,
            source_message_id,
        } => sqlx::query_scalar(
            "WITH copy AS (
                 DELETE FROM copies WHERE destination_id = $3 AND source_message_id = $4),
             done AS (DELETE FROM outbox_jobs WHERE id = $1 AND leased_by = $2 RETURNING id)
             SELECT EXISTS (SELECT 1 FROM done)",
        )
        .bind(job_id)
        .bind(worker)
        .bind(destination_id)
        .bind(sf(source_message_id)?),
    };
    Ok(query.fetch_one(executor).await?)
}

/// Releases a job after a transient failure: it keeps its place in its lane and becomes ready
/// again after `delay`, with `error` stored for the member to see.
pub async fn retry_later(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    worker: &str,
    delay: Duration,
    error: &str,
) -> Result<bool, StorageError> {
    let result = sqlx::query(
        "UPDATE outbox_jobs
         SET leased_by = NULL, leased_until = NULL, last_error = $3,
             retry_at = now() + make_interval(secs => $4)
         WHERE id = $1 AND leased_by = $2",
    )
    .bind(job_id)
    .bind(worker)
    .bind(error)
    .bind(delay.as_secs_f64())
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks a job failed for good (its webhook is gone or refuses us). It no longer blocks its
/// lane and stays for the member to see.
pub async fn fail(
    executor: impl PgExecutor<'_>,
    job_id: i64,
    worker: &str,
    error: &str,
) -> Result<bool, StorageError> {
    let result = sqlx::query(
        "UPDATE outbox_jobs
         SET leased_by = NULL, leased_until = NULL, last_error = $3, failed_at = now()
         WHERE id = $1 AND leased_by = $2",
    )
    .bind(job_id)
    .bind(worker)
    .bind(error)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Fails every queued job of a destination that just broke, so none of them calls a dead
/// webhook. Jobs a worker holds right now are left to that worker. Returns how many failed.
pub async fn fail_queued_for_destination(
    executor: impl PgExecutor<'_>,
    destination_id: i64,
    error: &str,
) -> Result<u64, StorageError> {
    fail_queued(executor, "destination_id", destination_id, error).await
}

/// Fails every queued job for a peer whose master webhook refuses us, so none of them calls
/// it again (the peer is marked unreachable). Jobs a worker holds right now are left to it.
pub async fn fail_queued_for_peer(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
    error: &str,
) -> Result<u64, StorageError> {
    fail_queued(executor, "peer_id", peer_id, error).await
}

/// Fails the queued jobs whose `column` (a target column, never input) is `id`.
async fn fail_queued(
    executor: impl PgExecutor<'_>,
    column: &'static str,
    id: i64,
    error: &str,
) -> Result<u64, StorageError> {
    let sql = format!(
        "UPDATE outbox_jobs SET last_error = $2, failed_at = now()
         WHERE {column} = $1 AND failed_at IS NULL
           AND (leased_until IS NULL OR leased_until < now())"
    );
    let result = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(error)
        .execute(executor)
        .await?;
    Ok(result.rows_affected())
}

/// Removes jobs that failed for good longer than `older_than` ago: members have seen them in
/// `/queue` and `/sharelist` by then, and a peer must not be able to fill the table for ever.
/// Returns how many went.
pub async fn prune_failed(
    executor: impl PgExecutor<'_>,
    older_than: Duration,
) -> Result<u64, StorageError> {
    let result = sqlx::query(
        "DELETE FROM outbox_jobs
         WHERE failed_at IS NOT NULL AND failed_at < now() - make_interval(secs => $1)",
    )
    .bind(older_than.as_secs_f64())
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// What became of a cancel request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The job was removed before it started.
    Yes,
    /// A worker is sending it right now; it can no longer be stopped.
    AlreadyStarted,
    /// No such pending job (delivered, failed, cancelled, or someone else's).
    NotFound,
}

/// Cancels a pending job of our server. With `member` set, only that member's job; without,
/// any job of the server (an admin's `/queue all:true`).
pub async fn cancel(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    job_id: i64,
    member: Option<u64>,
) -> Result<Cancelled, StorageError> {
    // One statement decides and deletes, so a worker's claim cannot slip in between.
    let running: Option<bool> = sqlx::query_scalar(
        "WITH target AS (
             SELECT id, (leased_until IS NOT NULL AND leased_until >= now()) AS running
             FROM outbox_jobs
             WHERE id = $1 AND server_guild_id = $2 AND failed_at IS NULL
               AND ($3::bigint IS NULL OR member_id = $3)
             FOR UPDATE),
         removed AS (
             DELETE FROM outbox_jobs WHERE id IN (SELECT id FROM target WHERE NOT running))
         SELECT running FROM target",
    )
    .bind(job_id)
    .bind(sf(server_guild_id)?)
    .bind(member.map(sf).transpose()?)
    .fetch_optional(executor)
    .await?;
    Ok(match running {
        None => Cancelled::NotFound,
        Some(true) => Cancelled::AlreadyStarted,
        Some(false) => Cancelled::Yes,
    })
}

/// What cancelling a whole relay did: how many of its jobs were removed, and how many could not
/// be because a worker is sending them right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayCancelled {
    /// Jobs removed before they started.
    pub removed: u64,
    /// Jobs being sent at this moment; they finish.
    pub running: u64,
}

/// Cancels every pending job of one relay of our server (the Cancel button of `/queue`). With
/// `member` set, only if the relay is that member's.
pub async fn cancel_relay(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    relay_id: Uuid,
    member: Option<u64>,
) -> Result<RelayCancelled, StorageError> {
    // One statement decides and deletes, so a worker's claim cannot slip in between.
    let (removed, running): (i64, i64) = sqlx::query_as(
        "WITH target AS (
             SELECT id, (leased_until IS NOT NULL AND leased_until >= now()) AS running
             FROM outbox_jobs
             WHERE relay_id = $1 AND server_guild_id = $2 AND failed_at IS NULL
               AND ($3::bigint IS NULL OR member_id = $3)
             FOR UPDATE),
         removed AS (
             DELETE FROM outbox_jobs WHERE id IN (SELECT id FROM target WHERE NOT running)
             RETURNING id)
         SELECT (SELECT count(*) FROM removed), (SELECT count(*) FROM target WHERE running)",
    )
    .bind(relay_id)
    .bind(sf(server_guild_id)?)
    .bind(member.map(sf).transpose()?)
    .fetch_one(executor)
    .await?;
    Ok(RelayCancelled {
        removed: removed.unsigned_abs(),
        running: running.unsigned_abs(),
    })
}

/// Our server's jobs not yet delivered or failed (scheduled, queued, retrying or running), in
/// delivery order; only `member`'s when set.
pub async fn pending_jobs(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member: Option<u64>,
) -> Result<Vec<Job>, StorageError> {
    Ok(sqlx::query_as::<_, Job>(
        "SELECT * FROM outbox_jobs
         WHERE server_guild_id = $1 AND failed_at IS NULL AND ($2::bigint IS NULL OR member_id = $2)
         ORDER BY scheduled_for, id",
    )
    .bind(sf(server_guild_id)?)
    .bind(member.map(sf).transpose()?)
    .fetch_all(executor)
    .await?)
}

/// Every job, pending or failed, of one relay: what `/here` reports back to the member.
pub async fn jobs_of_relay(
    executor: impl PgExecutor<'_>,
    relay_id: Uuid,
) -> Result<Vec<Job>, StorageError> {
    Ok(
        sqlx::query_as::<_, Job>("SELECT * FROM outbox_jobs WHERE relay_id = $1 ORDER BY id")
            .bind(relay_id)
            .fetch_all(executor)
            .await?,
    )
}

/// The queue's size for the metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueStats {
    /// Jobs due now or earlier and not failed (nor paused).
    pub due: i64,
    /// Jobs scheduled for later (not paused).
    pub scheduled: i64,
    /// Jobs held by their member's `/pause`, due or not: they wait on purpose.
    pub paused: i64,
    /// Jobs failed for good, kept for members to see.
    pub failed: i64,
    /// How long the oldest due job has been waiting, in seconds.
    pub oldest_due_age_seconds: Option<f64>,
}

/// Counts the queue.
pub async fn queue_stats(executor: impl PgExecutor<'_>) -> Result<QueueStats, StorageError> {
    // A paused member's jobs wait on purpose: counting them as due would make the age of the
    // oldest due job (an alert) grow for as long as someone keeps a pause.
    let (due, scheduled, paused, failed, oldest): (i64, i64, i64, i64, Option<f64>) =
        sqlx::query_as(
            "SELECT count(*) FILTER (WHERE failed_at IS NULL AND NOT paused
                                       AND scheduled_for <= now()),
                    count(*) FILTER (WHERE failed_at IS NULL AND NOT paused
                                       AND scheduled_for > now()),
                    count(*) FILTER (WHERE failed_at IS NULL AND paused),
                    count(*) FILTER (WHERE failed_at IS NOT NULL),
                    extract(epoch FROM now() - min(scheduled_for)
                        FILTER (WHERE failed_at IS NULL AND NOT paused
                                  AND scheduled_for <= now()))::float8
             FROM outbox_jobs",
        )
        .fetch_one(executor)
        .await?;
    Ok(QueueStats {
        due,
        scheduled,
        paused,
        failed,
        oldest_due_age_seconds: oldest,
    })
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
