//! The worker loop and the execution of one job.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kakusan_storage::outbox::{self, Job, Operation, OutboxListener, Target};
use kakusan_storage::{PgPool, StorageError, copies, destinations, peers, times};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::http::attachment::Attachment;
use twilight_model::id::Id;

use super::classify::{Failure, error_line};
use super::payload::{EditPayload, EnvelopePayload, SendPayload};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// This worker's name in job leases; unique per process.
    pub worker_id: String,
    /// How long a claimed job is this worker's unless renewed (every third of it, while the
    /// call runs); after that another worker may take it over. It bounds how long the jobs of a
    /// process that died wait.
    pub lease: Duration,
    /// How many calls may be under way at once, over all destinations. A call waiting out its
    /// webhook's rate limit holds its slot, so this should exceed the number of destinations
    /// that are busy at once, or waiting lanes starve the others.
    pub max_in_flight: usize,
    /// How often to look for due jobs without a notification (scheduled jobs, retries, and
    /// notifications lost while the listening connection was down).
    pub poll_interval: Duration,
    /// The first retry delay; it doubles with each attempt, with jitter.
    pub backoff_base: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// How long shutdown waits for running calls.
    pub drain_timeout: Duration,
    /// Files up to this size are re-uploaded; larger ones are linked.
    pub upload_limit: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            worker_id: format!(
                "worker-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ),
            lease: Duration::from_secs(10),
            max_in_flight: 256,
            poll_interval: Duration::from_secs(1),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            drain_timeout: Duration::from_secs(8),
            upload_limit: 10 * 1024 * 1024,
        }
    }
}

/// The delivery engine of one process.
pub struct Delivery {
    pool: PgPool,
    http: Arc<twilight_http::Client>,
    downloads: reqwest::Client,
    config: DeliveryConfig,
    /// Signalled when a job finishes, so its lane's next job is claimed at once.
    finished: Notify,
    /// The jobs this worker is running, whose leases it renews.
    running: Mutex<HashSet<i64>>,
    /// When each lane's webhook may be called again: set when a response says its bucket has
    /// no requests left. twilight-http 0.18 learns a bucket only from a 429, which costs one
    /// refused call per window per webhook; Discord counts those towards its invalid-request
    /// ban, so the engine paces each lane from the headers of successful responses itself.
    pacing: Mutex<HashMap<u64, tokio::time::Instant>>,
    /// Which database operations are failing now. A database outage makes every one of them
    /// fail, over and over; the first failure of each kind is logged, the repeats are not, and
    /// the line after the last one recovers says delivery resumes.
    failing: Mutex<[bool; StorageUse::ALL.len()]>,
}

/// What a successful call leaves to record.
enum Done {
    /// A copy was created: remember where.
    Copied {
        destination: i64,
        source: u64,
        copy: u64,
    },
    /// The copy was deleted, or was found gone already (`gone`): forget it.
    Uncopied {
        destination: i64,
        source: u64,
        gone: bool,
    },
    /// The call was made; nothing to record.
    Delivered,
    /// No call was made: the destination, the peer or the copy no longer exists.
    Gone,
}

impl Done {
    /// The `outcome` label of `kakusan_deliveries_total`.
    fn outcome(&self) -> &'static str {
        match self {
            Done::Copied { .. } | Done::Uncopied { gone: false, .. } | Done::Delivered => {
                "delivered"
            }
            Done::Uncopied { gone: true, .. } | Done::Gone => "gone",
        }
    }
}

/// The database operations of the engine whose failures are reported once per outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageUse {
    Listen,
    Claim,
    Renew,
    Record,
}

impl StorageUse {
    const ALL: [StorageUse; 4] = [
        StorageUse::Listen,
        StorageUse::Claim,
        StorageUse::Renew,
        StorageUse::Record,
    ];

    /// The log line of the first failure in an outage.
    fn failure_message(self) -> &'static str {
        match self {
            StorageUse::Listen => "cannot listen for new jobs; polling",
            StorageUse::Claim => "cannot claim jobs; retrying with backoff",
            StorageUse::Renew => "cannot renew the leases of running jobs",
            StorageUse::Record => {
                "cannot record a job's outcome; it runs again when its lease expires"
            }
        }
    }
}

/// The longest wait between claims while the database does not answer. Each claim also waits
/// up to the pool's acquire timeout for a connection, and an acquire under way notices the
/// database coming back within about a second, so delivery resumes soon after it does.
const OUTAGE_BACKOFF_MAX: Duration = Duration::from_secs(2);

impl Delivery {
    /// An engine on `pool` calling Discord through `http`.
    pub fn new(
        pool: PgPool,
        http: Arc<twilight_http::Client>,
        config: DeliveryConfig,
    ) -> Arc<Self> {
        Arc::new(Delivery {
            pool,
            http,
            downloads: reqwest::Client::new(),
            config,
            finished: Notify::new(),
            running: Mutex::new(HashSet::new()),
            pacing: Mutex::new(HashMap::new()),
            failing: Mutex::new([false; StorageUse::ALL.len()]),
        })
    }

    /// Claims and runs jobs until `shutdown`, then waits (at most the drain timeout) for the
    /// calls under way. A job still running then keeps its lease, and runs again once it
    /// expires: at most one duplicate message, never a lost one.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.config.max_in_flight));
        let tracker = TaskTracker::new();
        let mut listener: Option<OutboxListener> = None;
        let renewing = CancellationToken::new();
        let renewal = tokio::spawn(self.clone().renew_leases(renewing.clone()));
        tracing::info!(worker = %self.config.worker_id, "delivery started");
        // The wait before the next claim while the database does not answer; it doubles up
        // to OUTAGE_BACKOFF_MAX and falls back to the poll interval once a claim succeeds.
        let mut outage_wait = self.config.poll_interval;
        while !shutdown.is_cancelled() {
            let free = permits.available_permits();
            let mut claimed = 0;
            let mut claim_failed = false;
            if free > 0 {
                match outbox::claim(
                    &self.pool,
                    &self.config.worker_id,
                    self.config.lease,
                    free as i64,
                )
                .await
                {
                    Ok(jobs) => {
                        self.storage_ok(StorageUse::Claim);
                        outage_wait = self.config.poll_interval;
                        claimed = jobs.len();
                        for job in jobs {
                            let permit = permits
                                .clone()
                                .try_acquire_owned()
                                .expect("a free permit was counted");
                            let engine = self.clone();
                            if !engine.running_jobs().insert(job.id) {
                                // Our own running job, re-claimed after a renewal failed: the
                                // claim renewed its lease; one run is enough.
                                continue;
                            }
                            tracker.spawn(async move {
                                let id = job.id;
                                engine.run_job(job).await;
                                engine.running_jobs().remove(&id);
                                drop(permit);
                                engine.finished.notify_one();
                            });
                        }
                    }
                    Err(error) => {
                        self.storage_failed(StorageUse::Claim, &error);
                        claim_failed = true;
                    }
                }
            }
            // Listening needs a connection of its own; while claims fail there is none to
            // have, and trying would only double the wait for each round.
            if listener.is_none() && !claim_failed {
                listener = match OutboxListener::connect(&self.pool).await {
                    Ok(listener) => {
                        self.storage_ok(StorageUse::Listen);
                        Some(listener)
                    }
                    Err(error) => {
                        self.storage_failed(StorageUse::Listen, &error);
                        None
                    }
                };
            }
            if free > 0 && claimed == free {
                // Every free slot was filled: more jobs may be ready.
                continue;
            }
            let wait = if claim_failed {
                let wait = outage_wait;
                outage_wait =
                    (outage_wait * 2).min(OUTAGE_BACKOFF_MAX.max(self.config.poll_interval));
                wait
            } else {
                self.config.poll_interval
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                // A finished job frees a slot, but while claims fail the next round waits.
                () = self.finished.notified(), if !claim_failed => {}
                () = tokio::time::sleep(wait) => {}
                received = next_notification(&mut listener) => {
                    if let Err(error) = received {
                        self.storage_failed(StorageUse::Listen, &error);
                        listener = None;
                    }
                }
            }
        }
        tracker.close();
        if tokio::time::timeout(self.config.drain_timeout, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "calls still under way at shutdown; their jobs run again when the leases expire"
            );
        }
        renewing.cancel();
        let _ = renewal.await;
        tracing::info!("delivery stopped");
    }

    /// Logs the first failure of `operation` since it last worked.
    fn storage_failed(&self, operation: StorageUse, error: &StorageError) {
        let first = {
            let mut failing = self.failing_map();
            !std::mem::replace(&mut failing[operation as usize], true)
        };
        if first {
            tracing::warn!(error = %error_line(error), "{}", operation.failure_message());
        } else {
            tracing::debug!(error = %error_line(error), "{}", operation.failure_message());
        }
    }

    /// Notes that `operation` works; after an outage, says so once everything works again.
    fn storage_ok(&self, operation: StorageUse) {
        let recovered = {
            let mut failing = self.failing_map();
            std::mem::replace(&mut failing[operation as usize], false)
                && !failing.iter().any(|failing| *failing)
        };
        if recovered {
            tracing::info!("the database answers again; delivery resumes");
        }
    }

    fn failing_map(&self) -> std::sync::MutexGuard<'_, [bool; StorageUse::ALL.len()]> {
        self.failing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn running_jobs(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until the lane's webhook bucket has requests again.
    async fn paced(&self, lane: u64) {
        let ready_at = self.pacing_map().get(&lane).copied();
        if let Some(ready_at) = ready_at {
            tokio::time::sleep_until(ready_at).await;
        }
    }

    /// Notes from a response's rate-limit headers whether the lane must wait before its next
    /// call.
    fn learn_pacing(&self, lane: u64, headers: twilight_http::response::HeaderIter<'_>) {
        let (mut remaining, mut reset_after) = (None, None);
        for (name, value) in headers {
            let value = std::str::from_utf8(value).ok();
            match name {
                "x-ratelimit-remaining" => remaining = value.and_then(|v| v.parse::<u32>().ok()),
                "x-ratelimit-reset-after" => {
                    reset_after = value.and_then(|v| v.parse::<f64>().ok());
                }
                _ => {}
            }
        }
        let mut pacing = self.pacing_map();
        match (remaining, reset_after) {
            (Some(0), Some(after)) if after.is_finite() && after >= 0.0 => {
                let wait = Duration::from_secs_f64(after.min(3600.0));
                pacing.insert(lane, tokio::time::Instant::now() + wait);
            }
            _ => {
                pacing.remove(&lane);
            }
        }
    }

    fn pacing_map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, tokio::time::Instant>> {
        self.pacing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Renews the leases of the running jobs every third of a lease, until `stop`.
    async fn renew_leases(self: Arc<Self>, stop: CancellationToken) {
        let mut every = tokio::time::interval(self.config.lease / 3);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            let ids: Vec<i64> = self.running_jobs().iter().copied().collect();
            if ids.is_empty() {
                continue;
            }
            let renewed =
                outbox::renew_leases(&self.pool, &self.config.worker_id, &ids, self.config.lease)
                    .await;
            match renewed {
                Ok(_) => self.storage_ok(StorageUse::Renew),
                Err(error) => self.storage_failed(StorageUse::Renew, &error),
            }
        }
    }

    /// Runs one claimed job and records its outcome.
    async fn run_job(&self, job: Job) {
        let span = tracing::info_span!(
            "job",
            id = job.id,
            lane = job.lane,
            operation = job.operation.as_str(),
            attempt = job.attempts
        );
        async {
            let outcome = self.call(&job).await;
            match self.record(&job, outcome).await {
                Ok(label) => {
                    self.storage_ok(StorageUse::Record);
                    metrics::counter!(
                        "kakusan_deliveries_total",
                        "operation" => job.operation.as_str(),
                        "outcome" => label,
                    )
                    .increment(1);
                }
                // The lease runs out and the job runs again: at most one duplicate. It is
                // counted when its outcome is recorded, so the metric counts it once.
                Err(error) => self.storage_failed(StorageUse::Record, &error),
            }
        }
        .instrument(span)
        .await;
    }

    /// Makes the job's webhook call.
    async fn call(&self, job: &Job) -> Result<Done, Failure> {
        self.paced(job.lane).await;
        match job.target() {
            Target::Destination(destination_id) => {
                let Some(destination) =
                    destinations::destination(&self.pool, destination_id).await?
                else {
                    // Withdrawn since: nothing to deliver to.
                    return Ok(Done::Gone);
                };
                if let Some(reason) = destination.broken_reason {
                    return Err(Failure::Rejected(format!(
                        "the destination is broken: {reason}"
                    )));
                }
                let webhook = (
                    stored_id(destination.webhook_id)?,
                    destination.webhook_token.expose(),
                );
                let source = job.source_message_id.unwrap_or_default();
                match job.operation {
                    Operation::Send => {
                        let payload: SendPayload = parse_payload(job)?;
                        let copy = self.send(job.lane, webhook, &payload).await?;
                        Ok(Done::Copied {
                            destination: destination_id,
                            source,
                            copy,
                        })
                    }
                    Operation::Edit => {
                        let Some(copy) =
                            copies::copy_of(&self.pool, destination_id, source).await?
                        else {
                            // Never delivered, or deleted since: there is nothing to edit.
                            return Ok(Done::Gone);
                        };
                        let payload: EditPayload = parse_payload(job)?;
                        let mentions = AllowedMentions::default();
                        let result = self
                            .http
                            .update_webhook_message(webhook.0, webhook.1, stored_id(copy)?)
                            .content(Some(&payload.content))
                            .allowed_mentions(Some(&mentions))
                            .await;
                        count_call(&result);
                        match result.map_err(|error| Failure::of(&error)) {
                            Ok(response) => {
                                self.learn_pacing(job.lane, response.headers());
                                Ok(Done::Delivered)
                            }
                            Err(Failure::CopyGone) => Ok(Done::Uncopied {
                                destination: destination_id,
                                source,
                                gone: true,
                            }),
                            Err(failure) => Err(failure),
                        }
                    }
                    Operation::Delete => {
                        let Some(copy) =
                            copies::copy_of(&self.pool, destination_id, source).await?
                        else {
                            return Ok(Done::Gone);
                        };
                        let result = self
                            .http
                            .delete_webhook_message(webhook.0, webhook.1, stored_id(copy)?)
                            .await;
                        count_call(&result);
                        if let Ok(response) = &result {
                            self.learn_pacing(job.lane, response.headers());
                        }
                        match result.map_err(|error| Failure::of(&error)) {
                            Ok(_) => Ok(Done::Uncopied {
                                destination: destination_id,
                                source,
                                gone: false,
                            }),
                            Err(Failure::CopyGone) => Ok(Done::Uncopied {
                                destination: destination_id,
                                source,
                                gone: true,
                            }),
                            Err(failure) => Err(failure),
                        }
                    }
                    Operation::Envelope => Err(Failure::Rejected(
                        "an envelope job aimed at a member's destination".to_owned(),
                    )),
                }
            }
            Target::Peer(peer_id) => {
                let Some(peer) = peers::peer(&self.pool, peer_id).await? else {
                    return Ok(Done::Gone);
                };
                let Some((id, token)) = webhook_parts(peer.webhook_url.expose()) else {
                    return Err(Failure::Rejected(
                        "the peer's webhook URL is malformed".to_owned(),
                    ));
                };
                let payload: EnvelopePayload = parse_payload(job)?;
                let mentions = AllowedMentions::default();
                let result = self
                    .http
                    .execute_webhook(Id::new(id), token)
                    .content(&payload.content)
                    .username(&payload.username)
                    .allowed_mentions(Some(&mentions))
                    .wait()
                    .await;
                count_call(&result);
                let response = result.map_err(|error| Failure::of(&error))?;
                self.learn_pacing(job.lane, response.headers());
                Ok(Done::Delivered)
            }
            Target::Times(times_id) => {
                let Some(times) = times::times_by_id(&self.pool, times_id).await? else {
                    // Unregistered since: the member took the channel back.
                    return Ok(Done::Gone);
                };
                let payload: SendPayload = parse_payload(job)?;
                let webhook = (stored_id(times.webhook_id)?, times.webhook_token.expose());
                self.send(job.lane, webhook, &payload).await?;
                Ok(Done::Delivered)
            }
            Target::Channel(channel) => {
                let payload: SendPayload = parse_payload(job)?;
                self.post(job.lane, stored_id(channel)?, &payload).await?;
                Ok(Done::Delivered)
            }
        }
    }

    /// The files of a message to upload again, and its text with links to those that cannot
    /// be (too large, or no longer downloadable).
    async fn files(&self, payload: &SendPayload) -> (String, Vec<Attachment>) {
        let mut content = payload.content.clone();
        let mut files = Vec::new();
        for (index, attachment) in payload.attachments.iter().enumerate() {
            match self
                .download(attachment.url.as_str(), attachment.size)
                .await
            {
                Some(bytes) => files.push(Attachment::from_bytes(
                    attachment.filename.clone(),
                    bytes,
                    index as u64,
                )),
                None => {
                    content.push('\n');
                    content.push_str(&attachment.url);
                }
            }
        }
        (content, files)
    }

    /// Posts the message as the bot in one of our channels (a `/here` typed outside the
    /// member's times).
    async fn post(
        &self,
        lane: u64,
        channel: Id<twilight_model::id::marker::ChannelMarker>,
        payload: &SendPayload,
    ) -> Result<(), Failure> {
        let (content, files) = self.files(payload).await;
        let mentions = AllowedMentions::default();
        let mut request = self
            .http
            .create_message(channel)
            .allowed_mentions(Some(&mentions))
            .attachments(&files);
        if !content.is_empty() {
            request = request.content(&content);
        }
        let result = request.await;
        count_call(&result);
        let response = result.map_err(|error| Failure::of(&error))?;
        self.learn_pacing(lane, response.headers());
        Ok(())
    }

    /// Executes the webhook with a copy of the member's message; returns the copy's id.
    async fn send(
        &self,
        lane: u64,
        (webhook_id, token): (Id<twilight_model::id::marker::WebhookMarker>, &str),
        payload: &SendPayload,
    ) -> Result<u64, Failure> {
        let (content, files) = self.files(payload).await;
        let mentions = AllowedMentions::default();
        let mut request = self
            .http
            .execute_webhook(webhook_id, token)
            .username(&payload.username)
            .allowed_mentions(Some(&mentions))
            .attachments(&files);
        if !content.is_empty() {
            request = request.content(&content);
        }
        if let Some(avatar) = &payload.avatar_url {
            request = request.avatar_url(avatar);
        }
        let result = request.wait().await;
        count_call(&result);
        let response = result.map_err(|error| Failure::of(&error))?;
        self.learn_pacing(lane, response.headers());
        let message = response.model().await.map_err(|error| {
            Failure::Transient(format!("unreadable answer from Discord: {error}"))
        })?;
        Ok(message.id.get())
    }

    /// Downloads a file of at most the upload limit; `None` for larger or unreachable files.
    async fn download(&self, url: &str, size: u64) -> Option<Vec<u8>> {
        if size > self.config.upload_limit {
            return None;
        }
        let response = self
            .downloads
            .get(url)
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?;
        let bytes = response.bytes().await.ok()?;
        (bytes.len() as u64 <= self.config.upload_limit).then(|| bytes.to_vec())
    }

    /// Stores what became of the job; returns the `outcome` label of
    /// `kakusan_deliveries_total`.
    async fn record(
        &self,
        job: &Job,
        outcome: Result<Done, Failure>,
    ) -> Result<&'static str, StorageError> {
        let worker = self.config.worker_id.as_str();
        match outcome {
            Ok(done) => {
                let label = done.outcome();
                // The copy map changes in the same transaction as the job leaves the queue;
                // a job with no copy to record needs no transaction of its own.
                let held = match done {
                    Done::Delivered | Done::Gone => {
                        outbox::complete(&self.pool, job.id, worker).await?
                    }
                    change => {
                        let mut tx = self.pool.begin().await?;
                        match change {
                            Done::Copied {
                                destination,
                                source,
                                copy,
                            } => copies::record_copy(&mut *tx, destination, source, copy).await?,
                            Done::Uncopied {
                                destination,
                                source,
                                ..
                            } => {
                                copies::forget_copy(&mut *tx, destination, source).await?;
                            }
                            Done::Delivered | Done::Gone => {}
                        }
                        let held = outbox::complete(&mut *tx, job.id, worker).await?;
                        tx.commit().await?;
                        held
                    }
                };
                if !held {
                    tracing::warn!(
                        "the lease ran out before the call finished; the job may run twice"
                    );
                }
                tracing::debug!(outcome = label, "done");
                Ok(label)
            }
            Err(Failure::Transient(reason)) => {
                let delay = backoff(&self.config, job.attempts);
                tracing::info!(%reason, retry_in_ms = delay.as_millis() as u64, "call failed; will retry");
                outbox::retry_later(&self.pool, job.id, worker, delay, &reason).await?;
                Ok("retry")
            }
            Err(failure @ (Failure::Rejected(_) | Failure::CopyGone)) => {
                tracing::warn!(reason = failure.reason(), "job failed");
                outbox::fail(&self.pool, job.id, worker, failure.reason()).await?;
                Ok("failed")
            }
            Err(Failure::Broken(reason)) => {
                tracing::warn!(%reason, "destination broken");
                let mut tx = self.pool.begin().await?;
                outbox::fail(&mut *tx, job.id, worker, &reason).await?;
                if let Some(destination) = job.destination_id {
                    destinations::mark_broken(&mut *tx, destination, &reason).await?;
                    outbox::fail_queued_for_destination(&mut *tx, destination, &reason).await?;
                }
                if let Some(times) = job.times_id {
                    match times::set_times_broken(&mut *tx, times, Some(&reason)).await {
                        // Unregistered meanwhile: nothing left to mark.
                        Ok(()) | Err(StorageError::NotFound(_)) => {}
                        Err(error) => return Err(error),
                    }
                }
                tx.commit().await?;
                Ok("broken")
            }
        }
    }
}

/// Counts a webhook call by its final HTTP status, or `error` when no answer came.
///
/// twilight-http waits out a 429 and sends the request again inside the same call, so the
/// status here is the last answer; the 429s themselves are counted by the binary, which sees
/// twilight's log event for each of them (`kakusan_webhook_rate_limited_total`).
fn count_call<T>(result: &Result<twilight_http::Response<T>, twilight_http::Error>) {
    let status = match result {
        Ok(response) => Some(response.status().get()),
        Err(error) => match error.kind() {
            twilight_http::error::ErrorType::Response { status, .. } => Some(status.get()),
            _ => None,
        },
    };
    let label = status.map_or_else(|| "error".to_owned(), |status| status.to_string());
    metrics::counter!("kakusan_webhook_calls_total", "status" => label).increment(1);
}

fn parse_payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, Failure> {
    serde_json::from_value(job.payload.clone())
        .map_err(|error| Failure::Rejected(format!("the job's payload is unreadable: {error}")))
}

/// A Discord id read from the database; zero (which Discord never issues) fails the job
/// instead of calling some other webhook or message.
fn stored_id<T>(value: u64) -> Result<Id<T>, Failure> {
    Id::new_checked(value)
        .ok_or_else(|| Failure::Rejected("a stored Discord id is 0; the row is corrupt".to_owned()))
}

/// Waits for the next job notification, or forever without a listener.
async fn next_notification(listener: &mut Option<OutboxListener>) -> Result<u64, StorageError> {
    match listener {
        Some(listener) => listener.recv().await,
        None => std::future::pending().await,
    }
}

/// The delay before attempt `attempts + 1`: the base doubled per attempt, capped, with
/// jitter between half and all of it, so that many jobs failing together do not retry
/// together.
pub(crate) fn backoff(config: &DeliveryConfig, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let full = config
        .backoff_base
        .saturating_mul(1 << exponent)
        .min(config.backoff_max);
    let jitter =
        f64::from(rand_core::RngCore::next_u32(&mut rand_core::OsRng)) / f64::from(u32::MAX);
    full.mul_f64(0.5 + jitter / 2.0)
}

/// The id and token of a webhook URL (`.../webhooks/{id}/{token}`), as stored for peers: what
/// a webhook call needs. Handle the token as the secret it is.
pub fn webhook_parts(url: &str) -> Option<(u64, &str)> {
    let path = url.split(['?', '#']).next()?;
    let mut segments = path.rsplit('/');
    let token = segments.next().filter(|token| !token.is_empty())?;
    let id = segments.next()?.parse().ok().filter(|id| *id > 0)?;
    (segments.next()? == "webhooks").then_some((id, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let config = DeliveryConfig::default();
        for attempts in 1..=12 {
            let full = Duration::from_secs(1 << (attempts - 1)).min(config.backoff_max);
            let delay = backoff(&config, attempts);
            assert!(delay >= full / 2 && delay <= full, "{attempts}: {delay:?}");
        }
    }

    #[test]
    fn webhook_urls_give_id_and_token() {
        assert_eq!(
            webhook_parts("https://discord.com/api/webhooks/123/abc-DEF"),
            Some((123, "abc-DEF"))
        );
        assert_eq!(
            webhook_parts("http://127.0.0.1:9/api/v10/webhooks/5/t?wait=true"),
            Some((5, "t"))
        );
        assert_eq!(webhook_parts("https://discord.com/api/hooks/123/abc"), None);
        assert_eq!(
            webhook_parts("https://discord.com/api/webhooks/x/abc"),
            None
        );
        assert_eq!(webhook_parts("https://discord.com/api/webhooks/123/"), None);
    }
}
