//! Approval requests: hellos from servers our admins have not registered, each bound to the
//! exact card it showed.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::sf;
use crate::peers::{Peer, PeerCard};
use crate::{PublicKey, ServerName, StorageError, WebhookUrl};

/// A pending request as stored: the card of the hello that made it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PeerRequest {
    /// The row id (the Accept button names it).
    pub id: i64,
    /// Our server that was asked.
    #[sqlx(try_from = "i64")]
    pub server_guild_id: u64,
    /// The name the card gives.
    #[sqlx(try_from = "String")]
    pub name: ServerName,
    /// The guild the card claims.
    #[sqlx(try_from = "i64")]
    pub guild_id: u64,
    /// The card's master webhook.
    #[sqlx(try_from = "String")]
    pub webhook_url: WebhookUrl,
    /// The card's verify key: what binds the request to its card.
    #[sqlx(try_from = "Vec<u8>")]
    pub verify_key: PublicKey,
    /// The card's sealing key.
    #[sqlx(try_from = "Vec<u8>")]
    pub sealing_key: PublicKey,
    /// When the first hello with this card came.
    pub created_at: DateTime<Utc>,
    /// When the last one came.
    pub last_hello_at: DateTime<Utc>,
}

/// Serialises, until the end of the caller's transaction, everything that decides between a
/// request and a peer for guild `guild_id` at our server: a hello arriving while an admin
/// registers the same guild must see the registration or be seen by it, or the pair would be
/// left with a registered peer and a request that nobody answers.
pub async fn lock_guild(
    connection: &mut sqlx::PgConnection,
    server_guild_id: u64,
    guild_id: u64,
) -> Result<(), StorageError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2::text, 0))")
        .bind(sf(server_guild_id)?)
        .bind(sf(guild_id)?)
        .execute(connection)
        .await?;
    Ok(())
}

/// Records a hello's card as a request. Returns the request and whether it is new: the same
/// card again only notes the time (no second approval request), a different card for the same
/// guild is a request of its own and leaves the pending one as it was.
pub async fn record_request(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    card: &PeerCard<'_>,
) -> Result<(PeerRequest, bool), StorageError> {
    // `xmax = 0` holds for a row this statement inserted, not for one it updated.
    let (created, id): (bool, i64) = sqlx::query_as(
        "INSERT INTO peer_requests (server_guild_id, name, guild_id, webhook_url, verify_key,
                                    sealing_key)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (server_guild_id, guild_id, verify_key) DO UPDATE SET last_hello_at = now()
         RETURNING (xmax = 0), id",
    )
    .bind(sf(server_guild_id)?)
    .bind(card.name)
    .bind(sf(card.guild_id)?)
    .bind(card.webhook_url.expose())
    .bind(&card.verify_key.0[..])
    .bind(&card.sealing_key.0[..])
    .fetch_one(executor)
    .await?;
    Ok((
        PeerRequest {
            id,
            server_guild_id,
            name: ServerName::parse(card.name).map_err(|_| StorageError::InvalidServerName)?,
            guild_id: card.guild_id,
            webhook_url: card.webhook_url.clone(),
            verify_key: card.verify_key,
            sealing_key: card.sealing_key,
            created_at: Utc::now(),
            last_hello_at: Utc::now(),
        },
        created,
    ))
}

/// Accepts a request (the Accept button): registers exactly its card as a peer, registered by
/// `admin` and mutual (its server registered us, that is what its hello said), and drops every
/// request for that guild. `None` when the request is no longer pending (accepted, or the
/// guild registered another way meanwhile). Run it in a transaction.
pub async fn accept_request(
    connection: &mut sqlx::PgConnection,
    server_guild_id: u64,
    request_id: i64,
    admin: u64,
) -> Result<Option<Peer>, StorageError> {
    let peer = sqlx::query_as::<_, Peer>(
        "INSERT INTO peers (server_guild_id, name, guild_id, webhook_url, verify_key, sealing_key,
                            registered_by, registered_at, hello_received_at, last_seen_at)
         SELECT server_guild_id, name, guild_id, webhook_url, verify_key, sealing_key,
                $3, now(), last_hello_at, last_hello_at
         FROM peer_requests WHERE server_guild_id = $1 AND id = $2
         ON CONFLICT (server_guild_id, guild_id) DO NOTHING
         RETURNING *",
    )
    .bind(sf(server_guild_id)?)
    .bind(request_id)
    .bind(sf(admin)?)
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(peer) = &peer {
        drop_requests_of_guild(&mut *connection, server_guild_id, peer.guild_id).await?;
    }
    Ok(peer)
}

/// Whether a request with exactly this guild and verify key is pending (`/regserver` with the
/// card of a server that already said hello makes the pair mutual at once). Every request for
/// the guild is dropped either way: the admin registered the guild.
pub async fn take_matching_request(
    connection: &mut sqlx::PgConnection,
    server_guild_id: u64,
    guild_id: u64,
    verify_key: &PublicKey,
) -> Result<bool, StorageError> {
    let matching: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM peer_requests
                        WHERE server_guild_id = $1 AND guild_id = $2 AND verify_key = $3)",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(guild_id)?)
    .bind(&verify_key.0[..])
    .fetch_one(&mut *connection)
    .await?;
    drop_requests_of_guild(&mut *connection, server_guild_id, guild_id).await?;
    Ok(matching)
}

async fn drop_requests_of_guild(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    guild_id: u64,
) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM peer_requests WHERE server_guild_id = $1 AND guild_id = $2")
        .bind(sf(server_guild_id)?)
        .bind(sf(guild_id)?)
        .execute(executor)
        .await?;
    Ok(())
}

/// The pending requests of our server, oldest first (`/serverlist`).
pub async fn pending_requests(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
) -> Result<Vec<PeerRequest>, StorageError> {
    Ok(sqlx::query_as::<_, PeerRequest>(
        "SELECT * FROM peer_requests WHERE server_guild_id = $1 ORDER BY created_at, id",
    )
    .bind(sf(server_guild_id)?)
    .fetch_all(executor)
    .await?)
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;
    use crate::{fixtures, peers};

    fn card_with_key<'a>(name: &'a str, guild_id: u64, key: u8) -> PeerCard<'a> {
        PeerCard {
            verify_key: PublicKey([key; 32]),
            ..fixtures::card(name, guild_id)
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_request_is_bound_to_its_card_and_accept_registers_exactly_that(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let (first, created) = record_request(&pool, 100, &card_with_key("beta", 200, 5))
            .await
            .unwrap();
        assert!(created);
        let (again, created) = record_request(&pool, 100, &card_with_key("beta", 200, 5))
            .await
            .unwrap();
        assert!(!created, "the same card is the same request");
        assert_eq!(again.id, first.id);
        // Someone else claims the same guild with another key: a request of its own.
        let (other, created) = record_request(&pool, 100, &card_with_key("beta", 200, 6))
            .await
            .unwrap();
        assert!(created);
        assert_ne!(other.id, first.id);
        assert_eq!(pending_requests(&pool, 100).await.unwrap().len(), 2);

        let mut tx = pool.begin().await.unwrap();
        let peer = accept_request(&mut tx, 100, first.id, 42)
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            peer.verify_key,
            PublicKey([5; 32]),
            "the card the request showed"
        );
        assert!(peer.mutual);
        assert!(pending_requests(&pool, 100).await.unwrap().is_empty());
        // The other request is gone with the guild's registration.
        let mut tx = pool.begin().await.unwrap();
        assert!(
            accept_request(&mut tx, 100, other.id, 42)
                .await
                .unwrap()
                .is_none()
        );
        tx.commit().await.unwrap();
        let stored = peers::peer_by_guild(&pool, 100, 200)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.verify_key, PublicKey([5; 32]));
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn registering_a_guild_takes_its_matching_request(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        record_request(&pool, 100, &card_with_key("beta", 200, 5))
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        let other_key = take_matching_request(&mut tx, 100, 200, &PublicKey([6; 32]))
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert!(!other_key);
        let mut tx = pool.begin().await.unwrap();
        assert!(
            take_matching_request(&mut tx, 100, 200, &PublicKey([5; 32]))
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        assert!(pending_requests(&pool, 100).await.unwrap().is_empty());
    }
}
