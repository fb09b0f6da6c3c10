//! Pacing from rate-limit headers: each lane waits out its webhook's bucket before calling.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// When each lane's webhook may be called again.
///
/// twilight-http 0.18 learns a bucket only from a 429, which costs one refused call per window
/// per webhook; Discord counts those towards its invalid-request ban, so the engine paces each
/// lane from the headers of successful responses itself.
pub(crate) struct Pacing {
    /// Set when a response says its bucket has no requests left; removed when one says it has.
    ready_at: Mutex<HashMap<u64, Instant>>,
}

impl Pacing {
    /// No lane waiting.
    pub(crate) fn new() -> Self {
        Pacing {
            ready_at: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until the lane's webhook bucket has requests again.
    pub(crate) async fn wait(&self, lane: u64) {
        let ready_at = self.ready_at().get(&lane).copied();
        if let Some(ready_at) = ready_at {
            tokio::time::sleep_until(ready_at).await;
        }
    }

    /// Notes from a response's rate-limit headers whether the lane must wait before its next
    /// call.
    pub(crate) fn learn(&self, lane: u64, headers: twilight_http::response::HeaderIter<'_>) {
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
        let mut pacing = self.ready_at();
        match (remaining, reset_after) {
            (Some(0), Some(after)) if after.is_finite() && after >= 0.0 => {
                let wait = Duration::from_secs_f64(after.min(3600.0));
                pacing.insert(lane, Instant::now() + wait);
            }
            _ => {
                pacing.remove(&lane);
            }
        }
    }

    fn ready_at(&self) -> MutexGuard<'_, HashMap<u64, Instant>> {
        self.ready_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
