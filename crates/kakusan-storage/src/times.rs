//! Times: members' times channels in our servers, each with the webhook kakusan keeps there.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::{OptionalId, sf};
use crate::{SecretString, StorageError};

/// A times as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Times {
    /// The row id.
    pub id: i64,
    /// Our server the channel is in.
    #[sqlx(try_from = "i64")]
    pub server_guild_id: u64,
    /// The member who owns it.
    #[sqlx(try_from = "i64")]
    pub member_id: u64,
    /// The member's display name when they registered it, for announcements.
    pub member_name: String,
    /// The channel: the times itself, also when it is a thread or forum post (message events
    /// there carry the thread's id as their channel).
    #[sqlx(try_from = "i64")]
    pub channel_id: u64,
    /// The webhook kakusan created for it, in the channel or, for a thread, in its parent;
    /// peers post relays through it.
    #[sqlx(try_from = "i64")]
    pub webhook_id: u64,
    /// Its token.
    #[sqlx(try_from = "String")]
    pub webhook_token: SecretString,
    /// Whether the member's plain messages here are relayed without `/here`.
    pub mirror: bool,
    /// Why the times does not work, when it does not (its webhook was deleted, say).
    pub broken_reason: Option<String>,
    /// Since when it does not work.
    pub broken_at: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// The newest message of the channel already handled by mirror mode; messages after it
    /// that arrived while kakusan was away are read at the next start.
    #[sqlx(try_from = "OptionalId")]
    pub read_until: Option<u64>,
    /// Whether its webhook is to be replaced: a peer that held it was removed.
    pub rotation_pending: bool,
    /// For a times that is a thread or forum post, the channel it belongs to: Discord gives
    /// threads no webhooks, so the webhook lives there and every call names the thread.
    #[sqlx(try_from = "OptionalId")]
    pub parent_channel_id: Option<u64>,
}

impl Times {
    /// The thread every call through the webhook names (`thread_id`), for a times that is a
    /// thread or forum post.
    pub fn thread_id(&self) -> Option<u64> {
        self.parent_channel_id.map(|_| self.channel_id)
    }

    /// The channel that holds (or is to hold) the times' webhook.
    pub fn webhook_channel_id(&self) -> u64 {
        self.parent_channel_id.unwrap_or(self.channel_id)
    }
}

/// What `/regtimes` stores.
#[derive(Debug)]
pub struct NewTimes<'a> {
    /// Our server.
    pub server_guild_id: u64,
    /// The member.
    pub member_id: u64,
    /// The member's display name.
    pub member_name: &'a str,
    /// The channel (the thread, for a times in a thread or forum post).
    pub channel_id: u64,
    /// For a thread or forum post, the channel it belongs to, where the webhook was created.
    pub parent_channel_id: Option<u64>,
    /// The webhook just created for it.
    pub webhook_id: u64,
    /// Its token.
    pub webhook_token: &'a SecretString,
    /// Mirror mode.
    pub mirror: bool,
}

/// Registers a times. A second one for the same member in one server is
/// [`StorageError::DuplicateTimes`]; a channel that is already a times is
/// [`StorageError::ChannelTaken`].
pub async fn register_times(
    executor: impl PgExecutor<'_>,
    times: &NewTimes<'_>,
) -> Result<Times, StorageError> {
    Ok(sqlx::query_as::<_, Times>(
        "INSERT INTO times (server_guild_id, member_id, member_name, channel_id, webhook_id,
                            webhook_token, mirror, read_until, parent_channel_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $5, $8)
         RETURNING *",
    )
    .bind(sf(times.server_guild_id)?)
    .bind(sf(times.member_id)?)
    .bind(times.member_name)
    .bind(sf(times.channel_id)?)
    .bind(sf(times.webhook_id)?)
    .bind(times.webhook_token.expose())
    .bind(times.mirror)
    .bind(times.parent_channel_id.map(sf).transpose()?)
    .fetch_one(executor)
    .await?)
}

/// The member's times in our server.
pub async fn times_of_member(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
) -> Result<Option<Times>, StorageError> {
    Ok(sqlx::query_as::<_, Times>(
        "SELECT * FROM times WHERE server_guild_id = $1 AND member_id = $2",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .fetch_optional(executor)
    .await?)
}

/// The times with row id `times_id` (a `/here` job shown through its webhook).
pub async fn times_by_id(
    executor: impl PgExecutor<'_>,
    times_id: i64,
) -> Result<Option<Times>, StorageError> {
    Ok(
        sqlx::query_as::<_, Times>("SELECT * FROM times WHERE id = $1")
            .bind(times_id)
            .fetch_optional(executor)
            .await?,
    )
}

/// The times whose channel is `channel_id` (mirror mode looks messages up by channel).
pub async fn times_in_channel(
    executor: impl PgExecutor<'_>,
    channel_id: u64,
) -> Result<Option<Times>, StorageError> {
    Ok(
        sqlx::query_as::<_, Times>("SELECT * FROM times WHERE channel_id = $1")
            .bind(sf(channel_id)?)
            .fetch_optional(executor)
            .await?,
    )
}

/// Every times of our server, for a `times.sync`.
pub async fn list_times(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
) -> Result<Vec<Times>, StorageError> {
    Ok(sqlx::query_as::<_, Times>(
        "SELECT * FROM times WHERE server_guild_id = $1 ORDER BY member_id",
    )
    .bind(sf(server_guild_id)?)
    .fetch_all(executor)
    .await?)
}

/// Removes the member's times in `channel_id` (`/unregtimes`); returns it, so its webhook can
/// be deleted, or `None` when the member has no times there.
pub async fn unregister_times(
    executor: impl PgExecutor<'_>,
    member_id: u64,
    channel_id: u64,
) -> Result<Option<Times>, StorageError> {
    Ok(sqlx::query_as::<_, Times>(
        "DELETE FROM times WHERE member_id = $1 AND channel_id = $2 RETURNING *",
    )
    .bind(sf(member_id)?)
    .bind(sf(channel_id)?)
    .fetch_optional(executor)
    .await?)
}

/// Turns mirror mode of a times on or off (`/regtimes` again in the times channel).
pub async fn set_mirror(
    executor: impl PgExecutor<'_>,
    times_id: i64,
    mirror: bool,
) -> Result<(), StorageError> {
    let updated = sqlx::query("UPDATE times SET mirror = $2 WHERE id = $1")
        .bind(times_id)
        .bind(mirror)
        .execute(executor)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(StorageError::NotFound("times"));
    }
    Ok(())
}

/// Notes that mirror mode handled the times channel up to message `message_id`; the mark only
/// moves forward.
pub async fn advance_read_cursor(
    executor: impl PgExecutor<'_>,
    times_id: i64,
    message_id: u64,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE times SET read_until = GREATEST(read_until, $2) WHERE id = $1")
        .bind(times_id)
        .bind(sf(message_id)?)
        .execute(executor)
        .await?;
    Ok(())
}

/// The mirrored times channels of the servers in `guilds`, for reading what was posted while
/// kakusan was away.
pub async fn mirrored_times(
    executor: impl PgExecutor<'_>,
    guilds: &[u64],
) -> Result<Vec<Times>, StorageError> {
    let guilds = guilds
        .iter()
        .map(|&g| sf(g))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sqlx::query_as::<_, Times>(
        "SELECT * FROM times WHERE mirror AND broken_reason IS NULL
                               AND server_guild_id = ANY($1) ORDER BY id",
    )
    .bind(guilds)
    .fetch_all(executor)
    .await?)
}

/// Marks every times of our server for a new webhook (a peer that held their webhooks was
/// removed). Returns how many.
pub async fn mark_rotation_pending(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
) -> Result<u64, StorageError> {
    let marked = sqlx::query("UPDATE times SET rotation_pending = true WHERE server_guild_id = $1")
        .bind(sf(server_guild_id)?)
        .execute(executor)
        .await?;
    Ok(marked.rows_affected())
}

/// The times of our server whose webhook is still to be replaced.
pub async fn pending_rotations(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
) -> Result<Vec<Times>, StorageError> {
    Ok(sqlx::query_as::<_, Times>(
        "SELECT * FROM times WHERE server_guild_id = $1 AND rotation_pending ORDER BY id",
    )
    .bind(sf(server_guild_id)?)
    .fetch_all(executor)
    .await?)
}

/// Puts the times' new webhook in place and clears its pending rotation; returns the times.
pub async fn replace_webhook(
    executor: impl PgExecutor<'_>,
    times_id: i64,
    webhook_id: u64,
    webhook_token: &SecretString,
) -> Result<Times, StorageError> {
    sqlx::query_as::<_, Times>(
        "UPDATE times SET webhook_id = $2, webhook_token = $3, rotation_pending = false,
                          broken_reason = NULL, broken_at = NULL
         WHERE id = $1 RETURNING *",
    )
    .bind(times_id)
    .bind(sf(webhook_id)?)
    .bind(webhook_token.expose())
    .fetch_optional(executor)
    .await?
    .ok_or(StorageError::NotFound("times"))
}

/// Marks the times broken with `reason`, or working again with `None`.
pub async fn set_times_broken(
    executor: impl PgExecutor<'_>,
    times_id: i64,
    reason: Option<&str>,
) -> Result<(), StorageError> {
    let updated = sqlx::query(
        "UPDATE times SET broken_reason = $2,
                          broken_at = CASE WHEN $2::text IS NULL THEN NULL
                                           ELSE coalesce(broken_at, now()) END
         WHERE id = $1",
    )
    .bind(times_id)
    .bind(reason)
    .execute(executor)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StorageError::NotFound("times"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;
    use crate::fixtures;

    fn new_times(token: &SecretString, member_id: u64, channel_id: u64) -> NewTimes<'_> {
        NewTimes {
            server_guild_id: 100,
            member_id,
            member_name: "Hanako",
            channel_id,
            parent_channel_id: None,
            webhook_id: channel_id + 1000,
            webhook_token: token,
            mirror: false,
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn register_look_up_and_unregister(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let token = SecretString::new("tok");
        let times = register_times(&pool, &new_times(&token, 7, 70))
            .await
            .unwrap();
        assert_eq!(times.member_name, "Hanako");
        assert_eq!(times.webhook_token.expose(), "tok");
        assert!(times.broken_reason.is_none());

        let by_member = times_of_member(&pool, 100, 7).await.unwrap().unwrap();
        assert_eq!(by_member.id, times.id);
        let by_channel = times_in_channel(&pool, 70).await.unwrap().unwrap();
        assert_eq!(by_channel.id, times.id);
        assert_eq!(list_times(&pool, 100).await.unwrap().len(), 1);

        assert!(
            unregister_times(&pool, 8, 70).await.unwrap().is_none(),
            "not the owner"
        );
        let gone = unregister_times(&pool, 7, 70).await.unwrap().unwrap();
        assert_eq!(gone.webhook_id, 1070);
        assert!(times_of_member(&pool, 100, 7).await.unwrap().is_none());
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn mirrored_times_are_read_from_their_webhook_on_and_the_mark_moves_forward(
        pool: PgPool,
    ) {
        fixtures::server(&pool, 100, "alpha").await;
        fixtures::server(&pool, 200, "beta").await;
        let token = SecretString::new("tok");
        let plain = register_times(&pool, &new_times(&token, 7, 70))
            .await
            .unwrap();
        let mirrored = register_times(
            &pool,
            &NewTimes {
                mirror: true,
                ..new_times(&token, 8, 80)
            },
        )
        .await
        .unwrap();
        assert_eq!(
            mirrored.read_until,
            Some(1080),
            "from the webhook's creation on"
        );
        advance_read_cursor(&pool, mirrored.id, 5000).await.unwrap();
        advance_read_cursor(&pool, mirrored.id, 4000).await.unwrap();

        let found = mirrored_times(&pool, &[100]).await.unwrap();
        assert_eq!(found.len(), 1, "only mirrored ones");
        assert_eq!(found[0].read_until, Some(5000));
        assert!(mirrored_times(&pool, &[200]).await.unwrap().is_empty());
        assert_ne!(found[0].id, plain.id);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn one_times_per_member_per_server_and_per_channel(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let token = SecretString::new("tok");
        register_times(&pool, &new_times(&token, 7, 70))
            .await
            .unwrap();
        let second = register_times(&pool, &new_times(&token, 7, 71))
            .await
            .unwrap_err();
        assert!(matches!(second, StorageError::DuplicateTimes), "{second:?}");
        let taken = register_times(&pool, &new_times(&token, 8, 70))
            .await
            .unwrap_err();
        assert!(matches!(taken, StorageError::ChannelTaken), "{taken:?}");
        assert_eq!(list_times(&pool, 100).await.unwrap().len(), 1);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn broken_and_mended(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let token = SecretString::new("tok");
        let times = register_times(&pool, &new_times(&token, 7, 70))
            .await
            .unwrap();
        set_times_broken(&pool, times.id, Some("webhook deleted"))
            .await
            .unwrap();
        let broken = times_of_member(&pool, 100, 7).await.unwrap().unwrap();
        assert_eq!(broken.broken_reason.as_deref(), Some("webhook deleted"));
        assert!(broken.broken_at.is_some());
        set_times_broken(&pool, times.id, None).await.unwrap();
        let mended = times_of_member(&pool, 100, 7).await.unwrap().unwrap();
        assert!(mended.broken_reason.is_none() && mended.broken_at.is_none());
        let missing = set_times_broken(&pool, times.id + 1, None)
            .await
            .unwrap_err();
        assert!(matches!(missing, StorageError::NotFound("times")));
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_times_in_a_thread_keeps_its_webhook_in_the_parent(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let token = SecretString::new("tok");
        let plain = register_times(&pool, &new_times(&token, 7, 70))
            .await
            .unwrap();
        assert_eq!((plain.thread_id(), plain.webhook_channel_id()), (None, 70));
        let thread = register_times(
            &pool,
            &NewTimes {
                parent_channel_id: Some(70),
                ..new_times(&token, 8, 75)
            },
        )
        .await
        .unwrap();
        assert_eq!(thread.parent_channel_id, Some(70));
        assert_eq!(
            (thread.thread_id(), thread.webhook_channel_id()),
            (Some(75), 70)
        );
        // Message events in the thread carry the thread's id: that is what finds it.
        let found = times_in_channel(&pool, 75).await.unwrap().unwrap();
        assert_eq!(found.id, thread.id);
    }
}
