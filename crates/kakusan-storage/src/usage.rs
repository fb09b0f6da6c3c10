//! Per-command usage counters, per guild, for the metrics endpoint.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::StorageError;
use crate::ids::sf;

/// How often one command ran in one guild.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CommandUsage {
    /// The guild.
    #[sqlx(try_from = "i64")]
    pub guild_id: u64,
    /// The command's name, e.g. `here`.
    pub command: String,
    /// How many times it ran.
    pub uses: i64,
    /// When it last ran.
    pub last_used_at: DateTime<Utc>,
}

/// Counts one use of `command` in `guild_id`; returns the new count.
pub async fn count_command_use(
    executor: impl PgExecutor<'_>,
    guild_id: u64,
    command: &str,
) -> Result<i64, StorageError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO command_usage (guild_id, command, uses, last_used_at) VALUES ($1, $2, 1, now())
         ON CONFLICT (guild_id, command)
         DO UPDATE SET uses = command_usage.uses + 1, last_used_at = now()
         RETURNING uses",
    )
    .bind(sf(guild_id)?)
    .bind(command)
    .fetch_one(executor)
    .await?)
}

/// Every counter, by command and then guild.
pub async fn command_usage(
    executor: impl PgExecutor<'_>,
) -> Result<Vec<CommandUsage>, StorageError> {
    Ok(
        sqlx::query_as::<_, CommandUsage>("SELECT * FROM command_usage ORDER BY command, guild_id")
            .fetch_all(executor)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn uses_are_counted_per_guild_and_command(pool: PgPool) {
        assert_eq!(count_command_use(&pool, 1, "here").await.unwrap(), 1);
        assert_eq!(count_command_use(&pool, 1, "here").await.unwrap(), 2);
        assert_eq!(count_command_use(&pool, 2, "here").await.unwrap(), 1);
        assert_eq!(count_command_use(&pool, 1, "card").await.unwrap(), 1);
        let all = command_usage(&pool).await.unwrap();
        let summary: Vec<_> = all
            .iter()
            .map(|u| (u.command.as_str(), u.guild_id, u.uses))
            .collect();
        assert_eq!(
            summary,
            vec![("card", 1, 1), ("here", 1, 2), ("here", 2, 1)]
        );
    }
}
