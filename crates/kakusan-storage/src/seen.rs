//! Seen envelope ids, for replay protection, pruned once they are outside the time window.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::StorageError;
use crate::ids::sf;

/// Records that our server `server_guild_id` accepted envelope `envelope_id`, sent at
/// `sent_at`. Returns `true` the first time and `false` for a replay; the check and the record
/// are one statement, so two workers cannot both accept the same envelope.
pub async fn record_seen_envelope(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    envelope_id: &str,
    sent_at: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let result = sqlx::query(
        "INSERT INTO seen_envelopes (server_guild_id, envelope_id, seen_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(sf(server_guild_id)?)
    .bind(envelope_id)
    .bind(sent_at)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Forgets one recorded id: its envelope was accepted, but what it asked for could not be
/// stored (the database went away in between), so it will be checked again and must not look
/// like a replay of itself.
pub async fn forget_seen_envelope(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    envelope_id: &str,
) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM seen_envelopes WHERE server_guild_id = $1 AND envelope_id = $2")
        .bind(sf(server_guild_id)?)
        .bind(envelope_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Forgets ids of envelopes sent before `before`: the timestamp check already rejects those.
/// Returns how many were removed.
pub async fn prune_seen_envelopes(
    executor: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let result = sqlx::query("DELETE FROM seen_envelopes WHERE seen_at < $1")
        .bind(before)
        .execute(executor)
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use sqlx::PgPool;

    use super::*;
    use crate::fixtures;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn first_sighting_then_replay_then_pruned(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        fixtures::server(&pool, 200, "beta").await;
        let now = Utc::now();
        assert!(record_seen_envelope(&pool, 100, "abc", now).await.unwrap());
        assert!(!record_seen_envelope(&pool, 100, "abc", now).await.unwrap());
        // Another of our servers keeps its own list.
        assert!(record_seen_envelope(&pool, 200, "abc", now).await.unwrap());
        let old = now - TimeDelta::seconds(600);
        assert!(record_seen_envelope(&pool, 100, "old", old).await.unwrap());

        let removed = prune_seen_envelopes(&pool, now - TimeDelta::seconds(300))
            .await
            .unwrap();
        assert_eq!(removed, 1);
        assert!(record_seen_envelope(&pool, 100, "old", old).await.unwrap());
        assert!(!record_seen_envelope(&pool, 100, "abc", now).await.unwrap());

        // Forgetting one id of one server makes it new there, and only there.
        forget_seen_envelope(&pool, 100, "abc").await.unwrap();
        assert!(record_seen_envelope(&pool, 100, "abc", now).await.unwrap());
        assert!(!record_seen_envelope(&pool, 200, "abc", now).await.unwrap());
    }
}
