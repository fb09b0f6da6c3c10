//! `/pause` and `/resume`: whether a member's relays from one of our servers wait.
//!
//! A pause holds the member's queued jobs where they are (the `paused` flag on each, which the
//! claim's index leaves out) and every job queued for them while it lasts (a trigger sets the
//! flag on insert). Resuming clears the flags and wakes the workers of the lanes concerned;
//! the jobs keep their places, so they leave in the order the member posted them.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::StorageError;
use crate::ids::sf;
use crate::outbox::NOTIFY_CHANNEL;

/// Pauses `member_id`'s relays from our server `server_guild_id`. Returns how many of their
/// queued jobs now wait, or `None` when they were paused already. Run it in a transaction:
/// the pause and its jobs' flags are written by two statements.
pub async fn pause(
    connection: &mut PgConnection,
    server_guild_id: u64,
    member_id: u64,
) -> Result<Option<u64>, StorageError> {
    let added = sqlx::query(
        "INSERT INTO member_pauses (server_guild_id, member_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if added == 0 {
        return Ok(None);
    }
    let held = sqlx::query(
        "UPDATE outbox_jobs SET paused = true
         WHERE server_guild_id = $1 AND member_id = $2 AND failed_at IS NULL AND NOT paused",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok(Some(held))
}

/// Ends `member_id`'s pause in our server `server_guild_id`: their waiting jobs go back in
/// line, in their old places, and the workers of their lanes are woken when the transaction
/// commits. Returns how many jobs were released, or `None` when the member was not paused.
/// Run it in a transaction.
pub async fn resume(
    connection: &mut PgConnection,
    server_guild_id: u64,
    member_id: u64,
) -> Result<Option<u64>, StorageError> {
    // Two statements on purpose: a job being inserted for the member holds the pause row (see
    // the trigger), so the DELETE waits for it to commit, and only the UPDATE's later snapshot
    // sees that job and releases it too.
    let removed =
        sqlx::query("DELETE FROM member_pauses WHERE server_guild_id = $1 AND member_id = $2")
            .bind(sf(server_guild_id)?)
            .bind(sf(member_id)?)
            .execute(&mut *connection)
            .await?
            .rows_affected();
    if removed == 0 {
        return Ok(None);
    }
    let released: i64 = sqlx::query_scalar(
        "WITH released AS (
             UPDATE outbox_jobs SET paused = false
             WHERE server_guild_id = $1 AND member_id = $2 AND paused
             RETURNING lane),
         woken AS (
             SELECT pg_notify($3, lane::text) FROM (SELECT DISTINCT lane FROM released) lanes)
         SELECT (SELECT count(*) FROM released) + 0 * (SELECT count(*) FROM woken)",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .bind(NOTIFY_CHANNEL)
    .fetch_one(&mut *connection)
    .await?;
    Ok(Some(released.unsigned_abs()))
}

/// Since when `member_id`'s relays from our server `server_guild_id` are paused, if they are.
pub async fn paused_since(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
) -> Result<Option<DateTime<Utc>>, StorageError> {
    Ok(sqlx::query_scalar(
        "SELECT paused_at FROM member_pauses WHERE server_guild_id = $1 AND member_id = $2",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .fetch_optional(executor)
    .await?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use sqlx::PgPool;

    use super::*;
    use crate::fixtures;
    use crate::outbox::{NewJob, Operation, Target, claim, enqueue};

    const LEASE: Duration = Duration::from_secs(30);

    /// Queues a send for `member` (or for nobody) in `lane`, through a channel target.
    async fn job(pool: &PgPool, lane: u64, member: Option<u64>, source: u64) -> i64 {
        enqueue(
            pool,
            &NewJob {
                server_guild_id: 100,
                lane,
                target: Target::Channel(lane),
                operation: Operation::Send,
                source_message_id: Some(source),
                relay_id: None,
                member_id: member,
                payload: &json!({ "content": source.to_string() }),
                scheduled_for: None,
            },
        )
        .await
        .unwrap()
    }

    /// Pauses (or resumes) member 7 in a transaction of its own; returns what it answered.
    async fn set_paused(pool: &PgPool, paused: bool) -> Option<u64> {
        let mut tx = pool.begin().await.unwrap();
        let answer = if paused {
            pause(&mut tx, 100, 7).await.unwrap()
        } else {
            resume(&mut tx, 100, 7).await.unwrap()
        };
        tx.commit().await.unwrap();
        answer
    }

    async fn claimed(pool: &PgPool) -> Vec<i64> {
        let jobs = claim(pool, "w", LEASE, 50).await.unwrap();
        for job in &jobs {
            crate::outbox::complete(pool, job.id, "w").await.unwrap();
        }
        jobs.iter().map(|job| job.id).collect()
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_paused_members_jobs_wait_without_holding_up_their_lane_and_leave_in_order_on_resume(
        pool: PgPool,
    ) {
        fixtures::server(&pool, 100, "alpha").await;
        // Member 7's jobs in lanes 1 and 2; member 8 shares lane 2 (a channel both typed in).
        let first = job(&pool, 1, Some(7), 1).await;
        let shared = job(&pool, 2, Some(7), 2).await;

        assert_eq!(set_paused(&pool, true).await, Some(2));
        assert_eq!(set_paused(&pool, true).await, None, "paused already");
        assert!(paused_since(&pool, 100, 7).await.unwrap().is_some());
        assert!(paused_since(&pool, 100, 8).await.unwrap().is_none());

        // Queued while paused: it waits too. Member 8 and the envelopes go on.
        let later = job(&pool, 1, Some(7), 3).await;
        let stats = crate::outbox::queue_stats(&pool).await.unwrap();
        assert_eq!(
            (stats.due, stats.paused),
            (0, 3),
            "waiting on purpose is not due"
        );
        let other = job(&pool, 2, Some(8), 4).await;
        let envelope = job(&pool, 3, None, 5).await;
        assert_eq!(claimed(&pool).await, [other, envelope]);
        assert_eq!(claimed(&pool).await, Vec::<i64>::new());

        assert_eq!(set_paused(&pool, false).await, Some(3));
        assert_eq!(set_paused(&pool, false).await, None, "resumed already");
        // Back in their places: the heads of lanes 1 and 2, then lane 1's next.
        assert_eq!(claimed(&pool).await, [first, shared]);
        assert_eq!(claimed(&pool).await, [later]);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_job_that_missed_the_pause_flag_still_waits_while_the_pause_lasts(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        set_paused(&pool, true).await;
        // As if queued in the instant /pause committed: the flag was not set.
        let id = job(&pool, 1, Some(7), 1).await;
        sqlx::query("UPDATE outbox_jobs SET paused = false WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(claimed(&pool).await, Vec::<i64>::new());
        set_paused(&pool, false).await;
        assert_eq!(claimed(&pool).await, [id]);
    }
}
