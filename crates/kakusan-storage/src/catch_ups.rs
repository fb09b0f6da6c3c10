//! The catch-up gate of a scaled-out deployment: which shards' new sessions still wait for the
//! catch-up of what was posted while no session was connected (see the migration).

use std::time::Duration;

use sqlx::PgExecutor;

use crate::StorageError;

/// Closes the gate for `shard`: its new session's catch-up is to come.
pub async fn close(executor: impl PgExecutor<'_>, shard: u32) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO catch_up_gates (shard_id) VALUES ($1)
         ON CONFLICT (shard_id) DO UPDATE SET closed_at = now()",
    )
    .bind(i64::from(shard))
    .execute(executor)
    .await?;
    Ok(())
}

/// Opens the gate for `shard`: its catch-up is done.
pub async fn open(executor: impl PgExecutor<'_>, shard: u32) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM catch_up_gates WHERE shard_id = $1")
        .bind(i64::from(shard))
        .execute(executor)
        .await?;
    Ok(())
}

/// Whether some shard's gate was closed less than `max_age` ago. An older one is a catch-up
/// that never came (its READY was lost with a gateway that died), which must not hold the
/// message events for ever.
pub async fn any_closed(
    executor: impl PgExecutor<'_>,
    max_age: Duration,
) -> Result<bool, StorageError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM catch_up_gates
                        WHERE closed_at > now() - make_interval(secs => $1))",
    )
    .bind(max_age.as_secs_f64())
    .fetch_one(executor)
    .await?)
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_gate_holds_until_opened_or_too_old(pool: PgPool) {
        let hour = Duration::from_secs(3600);
        assert!(!any_closed(&pool, hour).await.unwrap());
        close(&pool, 0).await.unwrap();
        close(&pool, 3).await.unwrap();
        close(&pool, 3).await.unwrap();
        assert!(any_closed(&pool, hour).await.unwrap());
        assert!(!any_closed(&pool, Duration::ZERO).await.unwrap(), "too old");
        open(&pool, 0).await.unwrap();
        assert!(
            any_closed(&pool, hour).await.unwrap(),
            "shard 3 still waits"
        );
        open(&pool, 3).await.unwrap();
        assert!(!any_closed(&pool, hour).await.unwrap());
    }
}
