//! Interactions a scaled-out worker has taken on, so a redelivered one has no second effect.

use std::time::Duration;

use sqlx::PgExecutor;

use crate::StorageError;
use crate::ids::sf;

/// Records that interaction `interaction_id` is being handled. Returns `true` the first time
/// and `false` for a redelivery; the check and the record are one statement, so two workers
/// cannot both take the same interaction.
pub async fn claim_interaction(
    executor: impl PgExecutor<'_>,
    interaction_id: u64,
) -> Result<bool, StorageError> {
    let result = sqlx::query(
        "INSERT INTO handled_interactions (interaction_id) VALUES ($1) ON CONFLICT DO NOTHING",
    )
    .bind(sf(interaction_id)?)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Forgets interactions claimed longer ago than `older_than`. Returns how many were removed.
pub async fn prune_handled_interactions(
    executor: impl PgExecutor<'_>,
    older_than: Duration,
) -> Result<u64, StorageError> {
    let result = sqlx::query(
        "DELETE FROM handled_interactions WHERE handled_at < now() - make_interval(secs => $1)",
    )
    .bind(older_than.as_secs_f64())
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn an_interaction_is_claimed_once_and_pruned_later(pool: PgPool) {
        assert!(claim_interaction(&pool, 7).await.unwrap());
        assert!(!claim_interaction(&pool, 7).await.unwrap(), "a redelivery");
        assert!(claim_interaction(&pool, 8).await.unwrap());
        assert_eq!(
            prune_handled_interactions(&pool, Duration::from_secs(3600))
                .await
                .unwrap(),
            0,
            "fresh claims stay"
        );
        assert_eq!(
            prune_handled_interactions(&pool, Duration::ZERO)
                .await
                .unwrap(),
            2
        );
        assert!(claim_interaction(&pool, 7).await.unwrap());
    }
}
