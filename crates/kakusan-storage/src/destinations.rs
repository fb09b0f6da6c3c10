//! Destinations: members' times in peer servers, learned from the peers' signed announcements.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::{OptionalId, sf};
use crate::{SecretString, StorageError};

/// A destination as stored, with the name of the peer it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Destination {
    /// The row id.
    pub id: i64,
    /// The peer that announced it.
    pub peer_id: i64,
    /// That peer's federation name, for the member's lists and the relay's username.
    pub peer_name: String,
    /// The member (a Discord user id, the same in every guild).
    #[sqlx(try_from = "i64")]
    pub member_id: u64,
    /// The member's display name at the peer.
    pub member_name: String,
    /// The times channel at the peer (for a thread, the channel holding its webhook).
    #[sqlx(try_from = "i64")]
    pub channel_id: u64,
    /// The thread or forum post the times is, if it is one: every call through the webhook
    /// names it (`thread_id`).
    #[sqlx(try_from = "OptionalId")]
    pub thread_id: Option<u64>,
    /// The webhook in that channel, opened from the sealed announcement.
    #[sqlx(try_from = "i64")]
    pub webhook_id: u64,
    /// Its token.
    #[sqlx(try_from = "String")]
    pub webhook_token: SecretString,
    /// Why deliveries to it stopped, when they did.
    pub broken_reason: Option<String>,
    /// Since when.
    pub broken_at: Option<DateTime<Utc>>,
    /// When the peer last announced it.
    pub updated_at: DateTime<Utc>,
    /// When the member was told that this destination receives their posts.
    pub notified_at: Option<DateTime<Utc>>,
    /// Since when the member has stopped this destination; it gets nothing meanwhile.
    pub stopped_at: Option<DateTime<Utc>>,
}

/// One member's times as a peer announced it.
#[derive(Debug)]
pub struct Announced<'a> {
    /// The member.
    pub member_id: u64,
    /// The member's display name at the peer.
    pub member_name: &'a str,
    /// The times channel (for a thread, the channel holding the webhook).
    pub channel_id: u64,
    /// The thread or forum post the times is, if it is one.
    pub thread_id: Option<u64>,
    /// Its webhook.
    pub webhook_id: u64,
    /// The webhook's token.
    pub webhook_token: &'a SecretString,
}

const SELECT: &str =
    "SELECT d.*, p.name AS peer_name FROM destinations d JOIN peers p ON p.id = d.peer_id";

/// Stores a `times.announce` (or one registration of a `times.sync` chunk, with its `sync_id`),
/// replacing what the peer said before about that member. A new announcement mends a broken
/// destination: the peer sent a webhook that it believes works.
pub async fn announce(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
    times: &Announced<'_>,
    sync_id: Option<&str>,
) -> Result<i64, StorageError> {
    let result = sqlx::query_scalar(
        "INSERT INTO destinations (peer_id, member_id, member_name, channel_id, webhook_id,
                                   webhook_token, sync_id, thread_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (peer_id, member_id) DO UPDATE SET
             member_name = EXCLUDED.member_name,
             channel_id = EXCLUDED.channel_id,
             thread_id = EXCLUDED.thread_id,
             webhook_id = EXCLUDED.webhook_id,
             webhook_token = EXCLUDED.webhook_token,
             sync_id = EXCLUDED.sync_id,
             broken_reason = NULL,
             broken_at = NULL,
             updated_at = now()
         RETURNING id",
    )
    .bind(peer_id)
    .bind(sf(times.member_id)?)
    .bind(times.member_name)
    .bind(sf(times.channel_id)?)
    .bind(sf(times.webhook_id)?)
    .bind(times.webhook_token.expose())
    .bind(sync_id)
    .bind(times.thread_id.map(sf).transpose()?)
    .fetch_one(executor)
    .await;
    match result {
        Ok(id) => Ok(id),
        // The only foreign key here is the peer's.
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            Err(StorageError::NotFound("peer"))
        }
        Err(other) => Err(other.into()),
    }
}

/// Notes that the member was told about the destination; true the first time only, so the
/// member hears of each destination once.
pub async fn claim_notice(
    executor: impl PgExecutor<'_>,
    destination_id: i64,
) -> Result<bool, StorageError> {
    let claimed = sqlx::query(
        "UPDATE destinations SET notified_at = now() WHERE id = $1 AND notified_at IS NULL",
    )
    .bind(destination_id)
    .execute(executor)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Stops (or starts again) one of `member_id`'s destinations at our server in guild
/// `server_guild_id`. Returns the destination, or `None` when it is not that member's.
pub async fn set_stopped(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
    destination_id: i64,
    stopped: bool,
) -> Result<Option<Destination>, StorageError> {
    Ok(sqlx::query_as::<_, Destination>(
        "WITH changed AS (
             UPDATE destinations d
             SET stopped_at = CASE WHEN $4 THEN coalesce(d.stopped_at, now()) ELSE NULL END
             FROM peers p
             WHERE d.id = $3 AND d.member_id = $2 AND p.id = d.peer_id
               AND p.server_guild_id = $1
             RETURNING d.*, p.name AS peer_name)
         SELECT * FROM changed",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .bind(destination_id)
    .bind(stopped)
    .fetch_optional(executor)
    .await?)
}

/// Stores a `times.withdraw`; returns whether the peer had announced that member. A destination
/// forgotten by `/forget-me` stays until the deletions of its copies are done (see
/// [`crate::forget`]).
pub async fn withdraw(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
    member_id: u64,
) -> Result<bool, StorageError> {
    let result = sqlx::query(
        "DELETE FROM destinations WHERE peer_id = $1 AND member_id = $2 AND forgotten_at IS NULL",
    )
    .bind(peer_id)
    .bind(sf(member_id)?)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Ends a `times.sync`: removes what the peer had announced but this sync did not confirm.
/// Returns how many destinations went. Forgotten ones stay until their copies are deleted.
pub async fn finish_sync(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
    sync_id: &str,
) -> Result<u64, StorageError> {
    let result = sqlx::query(
        "DELETE FROM destinations
         WHERE peer_id = $1 AND sync_id IS DISTINCT FROM $2 AND forgotten_at IS NULL",
    )
    .bind(peer_id)
    .bind(sync_id)
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// The member's destinations reachable from our server: those announced by mutual peers,
/// broken ones included (the member sees them in `/sharelist`; the relay skips them), and
/// none that the member's `/forget-me` forgot.
pub async fn destinations_of_member(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
) -> Result<Vec<Destination>, StorageError> {
    Ok(
        sqlx::query_as::<_, Destination>(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE p.server_guild_id = $1 AND p.mutual AND d.member_id = $2
                   AND d.forgotten_at IS NULL
         ORDER BY p.name"
        )))
        .bind(sf(server_guild_id)?)
        .bind(sf(member_id)?)
        .fetch_all(executor)
        .await?,
    )
}

/// The destination with row id `id`.
pub async fn destination(
    executor: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<Destination>, StorageError> {
    Ok(
        sqlx::query_as::<_, Destination>(sqlx::AssertSqlSafe(format!("{SELECT} WHERE d.id = $1")))
            .bind(id)
            .fetch_optional(executor)
            .await?,
    )
}

/// Marks a destination broken with `reason` (its webhook is gone or refused us).
pub async fn mark_broken(
    executor: impl PgExecutor<'_>,
    id: i64,
    reason: &str,
) -> Result<(), StorageError> {
    let updated = sqlx::query(
        "UPDATE destinations SET broken_reason = $2, broken_at = coalesce(broken_at, now())
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(executor)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StorageError::NotFound("destination"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;
    use crate::{fixtures, peers};

    fn announced(token: &SecretString, member_id: u64) -> Announced<'_> {
        Announced {
            member_id,
            member_name: "Taro",
            channel_id: member_id * 10,
            thread_id: None,
            webhook_id: member_id * 100,
            webhook_token: token,
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn only_mutual_peers_give_destinations(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let mutual = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let one_sided = peers::record_hello(&pool, 100, &fixtures::card("gamma", 300))
            .await
            .unwrap();
        assert!(mutual.mutual && !one_sided.mutual);
        let token = SecretString::new("tok");
        announce(&pool, mutual.id, &announced(&token, 7), None)
            .await
            .unwrap();
        announce(&pool, one_sided.id, &announced(&token, 7), None)
            .await
            .unwrap();

        let found = destinations_of_member(&pool, 100, 7).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].peer_name, "beta");
        assert_eq!(found[0].webhook_id, 700);
        assert!(
            destinations_of_member(&pool, 100, 8)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn announce_replaces_and_mends_withdraw_removes(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let peer = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let token = SecretString::new("tok");
        let id = announce(&pool, peer.id, &announced(&token, 7), None)
            .await
            .unwrap();
        mark_broken(&pool, id, "unknown webhook").await.unwrap();
        let broken = destination(&pool, id).await.unwrap().unwrap();
        assert_eq!(broken.broken_reason.as_deref(), Some("unknown webhook"));

        let new_token = SecretString::new("new");
        let again = announce(&pool, peer.id, &announced(&new_token, 7), None)
            .await
            .unwrap();
        assert_eq!(again, id, "one destination per member and peer");
        let mended = destination(&pool, id).await.unwrap().unwrap();
        assert!(mended.broken_reason.is_none());
        assert_eq!(mended.webhook_token.expose(), "new");

        assert!(withdraw(&pool, peer.id, 7).await.unwrap());
        assert!(!withdraw(&pool, peer.id, 7).await.unwrap());
        assert!(destination(&pool, id).await.unwrap().is_none());
        let missing = mark_broken(&pool, id, "x").await.unwrap_err();
        assert!(matches!(missing, StorageError::NotFound("destination")));
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn announce_for_an_unknown_peer_is_not_found(pool: PgPool) {
        let token = SecretString::new("tok");
        let error = announce(&pool, 12345, &announced(&token, 7), None)
            .await
            .unwrap_err();
        assert!(matches!(error, StorageError::NotFound("peer")), "{error:?}");
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_sync_replaces_what_the_peer_said_before(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let peer = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let token = SecretString::new("tok");
        for member in [1, 2, 3] {
            announce(&pool, peer.id, &announced(&token, member), None)
                .await
                .unwrap();
        }
        // The new sync confirms members 2 and 4 only.
        for member in [2, 4] {
            announce(&pool, peer.id, &announced(&token, member), Some("sync-1"))
                .await
                .unwrap();
        }
        assert_eq!(finish_sync(&pool, peer.id, "sync-1").await.unwrap(), 2);
        for (member, expected) in [(1, 0), (2, 1), (3, 0), (4, 1)] {
            let found = destinations_of_member(&pool, 100, member).await.unwrap();
            assert_eq!(found.len(), expected, "member {member}");
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_member_hears_once_and_may_stop_only_their_own(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let peer = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let token = SecretString::new("tok");
        let id = announce(&pool, peer.id, &announced(&token, 7), None)
            .await
            .unwrap();
        assert!(claim_notice(&pool, id).await.unwrap());
        assert!(!claim_notice(&pool, id).await.unwrap(), "only once");
        assert!(
            set_stopped(&pool, 100, 8, id, true)
                .await
                .unwrap()
                .is_none(),
            "another member's destination"
        );
        let stopped = set_stopped(&pool, 100, 7, id, true).await.unwrap().unwrap();
        assert!(stopped.stopped_at.is_some());
        assert_eq!(stopped.peer_name, "beta");
        let started = set_stopped(&pool, 100, 7, id, false)
            .await
            .unwrap()
            .unwrap();
        assert!(started.stopped_at.is_none());
    }
}
