//! `/block` and `/unblock`: the remote members whose relays an admin no longer wants shown in
//! our server, through every peer or through one.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::StorageError;
use crate::ids::sf;

/// One block.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Block {
    /// The row id.
    pub id: i64,
    /// Our server.
    #[sqlx(try_from = "i64")]
    pub server_guild_id: u64,
    /// The blocked member (a Discord user id).
    #[sqlx(try_from = "i64")]
    pub member_id: u64,
    /// The peer their relays are blocked from; `None` is every peer.
    pub peer_id: Option<i64>,
    /// That peer's name.
    pub peer_name: Option<String>,
    /// The admin who blocked them.
    #[sqlx(try_from = "i64")]
    pub blocked_by: u64,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl Block {
    /// Whether the block covers a relay that came from `peer` (`None`: from a peer we cannot
    /// name, which only a block through every peer covers).
    pub fn covers(&self, peer: Option<i64>) -> bool {
        self.peer_id.is_none() || self.peer_id == peer
    }
}

/// Blocks `member_id`'s relays in our server, from `peer_id` or from every peer. Returns
/// `false` when exactly that block existed already.
pub async fn block(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
    peer_id: Option<i64>,
    admin: u64,
) -> Result<bool, StorageError> {
    let added = sqlx::query(
        "INSERT INTO blocks (server_guild_id, member_id, peer_id, blocked_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT ON CONSTRAINT blocks_member_peer_key DO NOTHING",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .bind(peer_id)
    .bind(sf(admin)?)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// Lifts the block of `member_id`'s relays from `peer_id` (or the one from every peer);
/// returns whether there was one.
pub async fn unblock(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
    peer_id: Option<i64>,
) -> Result<bool, StorageError> {
    let removed = sqlx::query(
        "DELETE FROM blocks
         WHERE server_guild_id = $1 AND member_id = $2 AND peer_id IS NOT DISTINCT FROM $3",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .bind(peer_id)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(removed > 0)
}

/// Every block of our server, oldest first.
pub async fn blocks(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
) -> Result<Vec<Block>, StorageError> {
    select(executor, server_guild_id, None).await
}

/// The blocks of one member in our server.
pub async fn blocks_of_member(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
) -> Result<Vec<Block>, StorageError> {
    select(executor, server_guild_id, Some(member_id)).await
}

/// Which of `member_id`'s destinations from our server `server_guild_id` are times in
/// another server of this same deployment that blocks the member's relays from us (or from
/// everywhere). Only there does this side queue the copies a block stops, so they are not
/// queued at all.
pub async fn blocked_destinations(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
) -> Result<Vec<i64>, StorageError> {
    // A block's server is one of ours (the foreign key), so a block found through the
    // destination's peer guild means that guild is served by this deployment.
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT d.id FROM destinations d
         JOIN peers p ON p.id = d.peer_id
         JOIN blocks b ON b.server_guild_id = p.guild_id AND b.member_id = d.member_id
         LEFT JOIN peers via ON via.id = b.peer_id
         WHERE p.server_guild_id = $1 AND d.member_id = $2
           AND (b.peer_id IS NULL OR via.guild_id = $1)
         ORDER BY d.id",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .fetch_all(executor)
    .await?)
}

async fn select(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: Option<u64>,
) -> Result<Vec<Block>, StorageError> {
    Ok(sqlx::query_as::<_, Block>(
        "SELECT b.*, p.name AS peer_name FROM blocks b
         LEFT JOIN peers p ON p.id = b.peer_id
         WHERE b.server_guild_id = $1 AND ($2::bigint IS NULL OR b.member_id = $2)
         ORDER BY b.created_at, b.id",
    )
    .bind(sf(server_guild_id)?)
    .bind(member_id.map(sf).transpose()?)
    .fetch_all(executor)
    .await?)
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;
    use crate::{destinations, fixtures, peers};

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn blocks_are_per_member_and_peer_and_go_with_their_peer(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let beta = fixtures::mutual_peer(&pool, 100, "beta", 200).await.id;
        assert!(block(&pool, 100, 7, None, 1).await.unwrap());
        assert!(!block(&pool, 100, 7, None, 1).await.unwrap(), "once");
        assert!(block(&pool, 100, 7, Some(beta), 1).await.unwrap());
        assert!(block(&pool, 100, 8, Some(beta), 1).await.unwrap());

        let of_7 = blocks_of_member(&pool, 100, 7).await.unwrap();
        assert_eq!(of_7.len(), 2);
        assert!(of_7[0].covers(None) && of_7[0].covers(Some(beta)));
        assert_eq!(of_7[1].peer_name.as_deref(), Some("beta"));
        let of_8 = &blocks_of_member(&pool, 100, 8).await.unwrap()[0];
        assert!(of_8.covers(Some(beta)) && !of_8.covers(None) && !of_8.covers(Some(beta + 1)));

        assert!(unblock(&pool, 100, 7, None).await.unwrap());
        assert!(!unblock(&pool, 100, 7, None).await.unwrap());
        assert_eq!(blocks(&pool, 100).await.unwrap().len(), 2);
        peers::remove_peer(&pool, 100, "beta").await.unwrap();
        assert!(blocks(&pool, 100).await.unwrap().is_empty());
    }

    /// Servers 100 (alpha) and 300 (gamma) of one deployment, peered both ways, and beta (200)
    /// elsewhere; member 7 has a times at gamma and at beta, known to alpha.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn copies_for_a_server_of_ours_that_blocks_the_member_are_found_before_queueing(
        pool: PgPool,
    ) {
        fixtures::server(&pool, 100, "alpha").await;
        fixtures::server(&pool, 300, "gamma").await;
        let gamma_at_alpha = fixtures::mutual_peer(&pool, 100, "gamma", 300).await.id;
        let alpha_at_gamma = fixtures::mutual_peer(&pool, 300, "alpha", 100).await.id;
        let beta_at_alpha = fixtures::mutual_peer(&pool, 100, "beta", 200).await.id;
        let beta_at_gamma = fixtures::mutual_peer(&pool, 300, "beta", 200).await.id;
        let token = crate::SecretString::new("t");
        let times = |channel| destinations::Announced {
            member_id: 7,
            member_name: "Taro",
            channel_id: channel,
            webhook_id: channel + 1,
            webhook_token: &token,
            thread_id: None,
        };
        let at_gamma = destinations::announce(&pool, gamma_at_alpha, &times(301), None)
            .await
            .unwrap();
        destinations::announce(&pool, beta_at_alpha, &times(201), None)
            .await
            .unwrap();
        let blocked = || blocked_destinations(&pool, 100, 7);

        assert!(blocked().await.unwrap().is_empty());
        // Gamma blocks member 7 through beta: not what alpha sends.
        block(&pool, 300, 7, Some(beta_at_gamma), 1).await.unwrap();
        assert!(blocked().await.unwrap().is_empty());
        // Through alpha, or from everywhere: alpha's copy for gamma is not queued.
        block(&pool, 300, 7, Some(alpha_at_gamma), 1).await.unwrap();
        assert_eq!(blocked().await.unwrap(), [at_gamma]);
        unblock(&pool, 300, 7, Some(alpha_at_gamma)).await.unwrap();
        block(&pool, 300, 7, None, 1).await.unwrap();
        assert_eq!(blocked().await.unwrap(), [at_gamma]);
        // Other members are not affected, though they have a times at gamma too.
        let other = destinations::Announced {
            member_id: 8,
            ..times(311)
        };
        destinations::announce(&pool, gamma_at_alpha, &other, None)
            .await
            .unwrap();
        assert!(
            blocked_destinations(&pool, 100, 8)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
