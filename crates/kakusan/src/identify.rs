//! The IDENTIFY queue shared by every gateway process of a deployment: Discord allows one
//! IDENTIFY per `max_concurrency` bucket every 5 seconds for the whole bot, so the processes
//! take turns through a PostgreSQL advisory lock per bucket.

use std::time::Duration;

use kakusan_storage::{PgPool, locks};
use tokio::sync::oneshot;
use twilight_gateway::queue::Queue;

/// How long a bucket stays taken after an IDENTIFY (Discord's limit).
const IDENTIFY_INTERVAL: Duration = Duration::from_secs(5);

/// The namespace of the bucket locks.
const NAMESPACE: i32 = 0x6b6b_4944; // "kkID"

/// Shards wait here before they IDENTIFY; shard `s` is in bucket `s % max_concurrency`.
#[derive(Debug)]
pub(crate) struct LockedQueue {
    pool: PgPool,
    max_concurrency: u16,
}

impl LockedQueue {
    pub(crate) fn new(pool: PgPool, max_concurrency: u16) -> Self {
        Self {
            pool,
            max_concurrency: max_concurrency.max(1),
        }
    }
}

impl Queue for LockedQueue {
    fn enqueue(&self, id: u32) -> oneshot::Receiver<()> {
        let (go, wait) = oneshot::channel();
        let pool = self.pool.clone();
        let bucket = i32::try_from(id % u32::from(self.max_concurrency)).unwrap_or(0);
        tokio::spawn(async move {
            // The lock lives on a connection of its own, closed afterwards: a pooled one would
            // go back with the lock held.
            let mut connection = match pool.acquire().await {
                Ok(connection) => connection.detach(),
                Err(error) => {
                    // Without the database the processes cannot take turns; Discord's own
                    // limit then answers a too-early IDENTIFY with a close, and twilight retries.
                    tracing::warn!(%error, shard = id, "identifying without the bucket lock");
                    let _ = go.send(());
                    return;
                }
            };
            if let Err(error) = locks::lock(&mut connection, NAMESPACE, bucket).await {
                tracing::warn!(%error, shard = id, "identifying without the bucket lock");
            }
            tracing::debug!(shard = id, bucket, "identifying");
            let _ = go.send(());
            tokio::time::sleep(IDENTIFY_INTERVAL).await;
            let _ = locks::unlock(&mut connection, NAMESPACE, bucket).await;
            drop(connection);
        });
        wait
    }
}
