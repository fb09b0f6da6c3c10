//! Lease renewal: the jobs this worker runs, and the task that keeps their leases alive.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use kakusan_storage::PgPool;
use kakusan_storage::outbox;
use tokio_util::sync::CancellationToken;

use crate::outage::{Outage, StorageUse};

/// The jobs a worker is running, whose leases it renews while their calls last.
pub(crate) struct Leases {
    /// The worker's name in the leases.
    worker: String,
    /// How long a lease lasts; it is renewed every third of it.
    lease: Duration,
    /// The running jobs' ids: added when a job starts, removed when its outcome is recorded.
    running: Mutex<HashSet<i64>>,
}

impl Leases {
    /// Leases of `lease` held by `worker`.
    pub(crate) fn new(worker: String, lease: Duration) -> Self {
        Leases {
            worker,
            lease,
            running: Mutex::new(HashSet::new()),
        }
    }

    /// Notes that `job` runs now; `false` if it runs already (our own running job, re-claimed
    /// after a renewal failed: the claim renewed its lease, and one run is enough).
    pub(crate) fn start(&self, job: i64) -> bool {
        self.running().insert(job)
    }

    /// Notes that `job` is done, so its lease is no longer renewed.
    pub(crate) fn finish(&self, job: i64) {
        self.running().remove(&job);
    }

    /// Renews the leases of the running jobs every third of a lease, until `stop`.
    pub(crate) async fn renew_until(
        &self,
        pool: &PgPool,
        outage: &Outage,
        stop: CancellationToken,
    ) {
        let mut every = tokio::time::interval(self.lease / 3);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            let ids: Vec<i64> = self.running().iter().copied().collect();
            if ids.is_empty() {
                continue;
            }
            match outbox::renew_leases(pool, &self.worker, &ids, self.lease).await {
                Ok(_) => outage.ok(StorageUse::Renew),
                Err(error) => outage.failed(StorageUse::Renew, &error),
            }
        }
    }

    fn running(&self) -> MutexGuard<'_, HashSet<i64>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
