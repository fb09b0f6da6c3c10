//! Outage logging: a database outage makes every query of the engine fail, over and over; this
//! logs the first failure of each kind and says once when delivery resumes.

use std::sync::{Mutex, MutexGuard};

use kakusan_storage::StorageError;

use crate::classify::error_line;

/// The database operations of the engine whose failures are reported once per outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StorageUse {
    /// Listening for new jobs.
    Listen,
    /// Claiming ready jobs.
    Claim,
    /// Renewing the leases of running jobs.
    Renew,
    /// Recording a job's outcome.
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

/// Which database operations are failing now.
pub(crate) struct Outage {
    /// One flag per [`StorageUse`]: set by its first failure, cleared when it works again. The
    /// line after the last one recovers says delivery resumes.
    failing: Mutex<[bool; StorageUse::ALL.len()]>,
}

impl Outage {
    /// No operation failing.
    pub(crate) fn new() -> Self {
        Outage {
            failing: Mutex::new([false; StorageUse::ALL.len()]),
        }
    }

    /// Logs the first failure of `operation` since it last worked.
    pub(crate) fn failed(&self, operation: StorageUse, error: &StorageError) {
        let first = {
            let mut failing = self.failing();
            !std::mem::replace(&mut failing[operation as usize], true)
        };
        if first {
            tracing::warn!(error = %error_line(error), "{}", operation.failure_message());
        } else {
            tracing::debug!(error = %error_line(error), "{}", operation.failure_message());
        }
    }

    /// Notes that `operation` works; after an outage, says so once everything works again.
    pub(crate) fn ok(&self, operation: StorageUse) {
        let recovered = {
            let mut failing = self.failing();
            std::mem::replace(&mut failing[operation as usize], false)
                && !failing.iter().any(|failing| *failing)
        };
        if recovered {
            tracing::info!("the database answers again; delivery resumes");
        }
    }

    fn failing(&self) -> MutexGuard<'_, [bool; StorageUse::ALL.len()]> {
        self.failing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
