//! Recording outcomes: what became of a job goes to the database (the queue, the copy map,
//! a broken destination), and a transient failure gets its retry delay.

use std::time::Duration;

use kakusan_storage::outbox::{self, CopyChange, Job};
use kakusan_storage::{PgPool, StorageError, destinations, peers, times};

use crate::call::Done;
use crate::classify::Failure;
use crate::config::DeliveryConfig;

/// Stores what became of the job; returns the `outcome` label of
/// `kakusan_deliveries_total`.
pub(crate) async fn record(
    pool: &PgPool,
    config: &DeliveryConfig,
    job: &Job,
    outcome: Result<Done, Failure>,
) -> Result<&'static str, StorageError> {
    let worker = config.worker_id.as_str();
    match outcome {
        Ok(done) => {
            let label = done.outcome();
            // The copy map changes in the same statement as the job leaves the queue.
            let held = match done {
                Done::Delivered | Done::Gone => outbox::complete(pool, job.id, worker).await?,
                Done::Copied {
                    destination,
                    source,
                    copy,
                } => {
                    let change = CopyChange::Record {
                        destination_id: destination,
                        source_message_id: source,
                        copy_message_id: copy,
                    };
                    outbox::complete_with_copy(pool, job.id, worker, change).await?
                }
                Done::Uncopied {
                    destination,
                    source,
                    ..
                } => {
                    let change = CopyChange::Forget {
                        destination_id: destination,
                        source_message_id: source,
                    };
                    outbox::complete_with_copy(pool, job.id, worker, change).await?
                }
            };
            if !held {
                tracing::warn!("the lease ran out before the call finished; the job may run twice");
            }
            tracing::debug!(outcome = label, "done");
            Ok(label)
        }
        Err(Failure::Transient(reason)) => {
            let delay = backoff(config, job.attempts);
            tracing::info!(%reason, retry_in_ms = delay.as_millis() as u64, "call failed; will retry");
            outbox::retry_later(pool, job.id, worker, delay, &reason).await?;
            Ok("retry")
        }
        Err(failure @ (Failure::Rejected(_) | Failure::CopyGone)) => {
            tracing::warn!(reason = failure.reason(), "job failed");
            outbox::fail(pool, job.id, worker, failure.reason()).await?;
            Ok("failed")
        }
        Err(Failure::Broken(reason)) => {
            tracing::warn!(%reason, "destination broken");
            let mut tx = pool.begin().await?;
            outbox::fail(&mut *tx, job.id, worker, &reason).await?;
            if let Some(destination) = job.destination_id {
                destinations::mark_broken(&mut *tx, destination, &reason).await?;
                outbox::fail_queued_for_destination(&mut *tx, destination, &reason).await?;
            }
            if let Some(peer) = job.peer_id {
                // The peer's master webhook refuses us: nothing more goes to it until a /ping
                // gets through.
                peers::set_unreachable(&mut *tx, peer, Some(&reason)).await?;
                outbox::fail_queued_for_peer(&mut *tx, peer, &reason).await?;
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

/// The delay before attempt `attempts + 1`: the base doubled per attempt, capped, with
/// jitter between half and all of it, so that many jobs failing together do not retry
/// together.
fn backoff(config: &DeliveryConfig, attempts: i32) -> Duration {
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
}
