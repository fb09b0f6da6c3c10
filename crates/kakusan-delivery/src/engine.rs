//! The claim loop: the delivery engine of one process, which claims ready jobs, runs each in a
//! task of its own and drains them at shutdown.

use std::sync::Arc;
use std::time::Duration;

use kakusan_storage::outbox::{self, ClaimedJob, OutboxListener};
use kakusan_storage::{PgPool, StorageError};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::call::Caller;
use crate::config::DeliveryConfig;
use crate::download::Downloads;
use crate::lease::Leases;
use crate::outage::{Outage, StorageUse};
use crate::record::record;

/// The delivery engine of one process.
pub struct Delivery {
    pool: PgPool,
    config: DeliveryConfig,
    /// Makes the jobs' Discord calls.
    caller: Caller,
    /// The jobs this worker is running, whose leases it renews.
    leases: Leases,
    /// Which database operations are failing now, so an outage is logged once.
    outage: Outage,
    /// Signalled when a job finishes, so its lane's next job is claimed at once.
    finished: Notify,
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
            caller: Caller::new(http, Downloads::new(&config)),
            leases: Leases::new(config.worker_id.clone(), config.lease),
            outage: Outage::new(),
            finished: Notify::new(),
            pool,
            config,
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
        let renewal = tokio::spawn({
            let engine = self.clone();
            let stop = renewing.clone();
            async move {
                engine
                    .leases
                    .renew_until(&engine.pool, &engine.outage, stop)
                    .await;
            }
        });
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
                        self.outage.ok(StorageUse::Claim);
                        outage_wait = self.config.poll_interval;
                        claimed = jobs.len();
                        for job in jobs {
                            let permit = permits
                                .clone()
                                .try_acquire_owned()
                                .expect("a free permit was counted");
                            let engine = self.clone();
                            if !engine.leases.start(job.id) {
                                // Already running here, re-claimed after a renewal failed.
                                continue;
                            }
                            tracker.spawn(async move {
                                let id = job.id;
                                engine.run_job(job).await;
                                engine.leases.finish(id);
                                drop(permit);
                                engine.finished.notify_one();
                            });
                        }
                    }
                    Err(error) => {
                        self.outage.failed(StorageUse::Claim, &error);
                        claim_failed = true;
                    }
                }
            }
            // Listening needs a connection of its own; while claims fail there is none to
            // have, and trying would only double the wait for each round.
            if listener.is_none() && !claim_failed {
                listener = match OutboxListener::connect(&self.pool).await {
                    Ok(listener) => {
                        self.outage.ok(StorageUse::Listen);
                        Some(listener)
                    }
                    Err(error) => {
                        self.outage.failed(StorageUse::Listen, &error);
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
                        self.outage.failed(StorageUse::Listen, &error);
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

    /// Runs one claimed job and records its outcome.
    async fn run_job(&self, job: ClaimedJob) {
        let span = tracing::info_span!(
            "job",
            id = job.id,
            lane = job.lane,
            operation = job.operation.as_str(),
            attempt = job.attempts
        );
        async {
            let outcome = self.caller.call(&job).await;
            match record(&self.pool, &self.config, &job, outcome).await {
                Ok(label) => {
                    self.outage.ok(StorageUse::Record);
                    metrics::counter!(
                        "kakusan_deliveries_total",
                        "operation" => job.operation.as_str(),
                        "outcome" => label,
                    )
                    .increment(1);
                }
                // The lease runs out and the job runs again: at most one duplicate. It is
                // counted when its outcome is recorded, so the metric counts it once.
                Err(error) => self.outage.failed(StorageUse::Record, &error),
            }
        }
        .instrument(span)
        .await;
    }
}

/// Waits for the next job notification, or forever without a listener.
async fn next_notification(listener: &mut Option<OutboxListener>) -> Result<u64, StorageError> {
    match listener {
        Some(listener) => listener.recv().await,
        None => std::future::pending().await,
    }
}
