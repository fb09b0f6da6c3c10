//! Readiness of the shards, shared with the health endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether every shard is connected; cheap to clone, all clones see the same state.
///
/// A shard counts as connected from its READY or RESUMED until its connection closes (any
/// close frame, ours or Discord's, or a dropped connection). We follow these events rather than
/// polling `Shard::state()`, because the shard loop sees every one of them as it happens and
/// twilight changes the state only while the shard is polled anyway.
#[derive(Clone, Debug, Default)]
pub struct GatewayStatus {
    inner: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Shards of the current run; zero before [`crate::run`] has asked Discord.
    shards: AtomicUsize,
    /// Shards between READY/RESUMED and the next close.
    connected: AtomicUsize,
}

impl GatewayStatus {
    /// `true` when there is at least one shard and every shard is connected.
    pub fn all_connected(&self) -> bool {
        let shards = self.inner.shards.load(Ordering::Acquire);
        shards > 0 && self.inner.connected.load(Ordering::Acquire) == shards
    }

    /// How many shards the current run has (zero before it started).
    pub fn shards(&self) -> usize {
        self.inner.shards.load(Ordering::Acquire)
    }

    /// Starts a run with `shards` shards, none of them connected yet.
    pub(crate) fn start(&self, shards: usize) {
        self.inner.connected.store(0, Ordering::Release);
        self.inner.shards.store(shards, Ordering::Release);
        metrics::gauge!("kakusan_gateway_shards_connected").set(0.0);
    }

    /// Records one shard's transition; each shard reports only real changes.
    pub(crate) fn set_connected(&self, connected: bool) {
        let now = if connected {
            self.inner.connected.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.inner.connected.fetch_sub(1, Ordering::AcqRel) - 1
        };
        metrics::gauge!("kakusan_gateway_shards_connected").set(now as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_shards_is_not_connected() {
        let status = GatewayStatus::default();
        assert!(!status.all_connected());
        assert_eq!(status.shards(), 0);
    }

    #[test]
    fn connected_only_when_every_shard_is() {
        let status = GatewayStatus::default();
        let clone = status.clone();
        status.start(2);
        status.set_connected(true);
        assert!(!clone.all_connected());
        status.set_connected(true);
        assert!(clone.all_connected());
        status.set_connected(false);
        assert!(!clone.all_connected());
        assert_eq!(clone.shards(), 2);
    }
}
