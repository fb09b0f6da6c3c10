//! Peers: other servers known to one of ours, from an admin's registration, a hello, or both.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::{OptionalId, sf};
use crate::{PublicKey, ServerName, StorageError, WebhookUrl};

/// A peer as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Peer {
    /// The row id.
    pub id: i64,
    /// Our server that knows this peer.
    #[sqlx(try_from = "i64")]
    pub server_guild_id: u64,
    /// The peer's federation name.
    #[sqlx(try_from = "String")]
    pub name: ServerName,
    /// The peer's guild.
    #[sqlx(try_from = "i64")]
    pub guild_id: u64,
    /// The peer's master webhook URL, through which we post envelopes to it.
    #[sqlx(try_from = "String")]
    pub webhook_url: WebhookUrl,
    /// The peer's Ed25519 verify key.
    #[sqlx(try_from = "Vec<u8>")]
    pub verify_key: PublicKey,
    /// The peer's X25519 sealing key.
    #[sqlx(try_from = "Vec<u8>")]
    pub sealing_key: PublicKey,
    /// The admin of our server who registered the peer; `None` while it only said hello.
    #[sqlx(try_from = "OptionalId")]
    pub registered_by: Option<u64>,
    /// When our admin registered it.
    pub registered_at: Option<DateTime<Utc>>,
    /// When its hello arrived, i.e. it registered us.
    pub hello_received_at: Option<DateTime<Utc>>,
    /// Both sides registered each other; only mutual peers exchange times.
    pub mutual: bool,
    /// When a verified envelope from it last arrived.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When a ping to it was last answered.
    pub last_ping_at: Option<DateTime<Utc>>,
    /// That ping's round trip.
    pub last_ping_rtt_ms: Option<i32>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When a `times.sync` last went to the peer in answer to its hello.
    pub last_sync_sent_at: Option<DateTime<Utc>>,
    /// Why the peer's master webhook refuses us (401, 403, 404), while it does: nothing but a
    /// `/ping` is sent to it meanwhile.
    pub unreachable_reason: Option<String>,
    /// Since when.
    pub unreachable_at: Option<DateTime<Utc>>,
    /// When the peer last showed it knows our current keys (a hello sealed to our current
    /// sealing key).
    pub key_confirmed_at: Option<DateTime<Utc>>,
}

/// The fields of a peer's card.
#[derive(Debug, Clone)]
pub struct PeerCard<'a> {
    /// Federation name.
    pub name: &'a str,
    /// Guild id.
    pub guild_id: u64,
    /// Master webhook URL.
    pub webhook_url: WebhookUrl,
    /// Ed25519 verify key.
    pub verify_key: PublicKey,
    /// X25519 sealing key.
    pub sealing_key: PublicKey,
}

/// Registers a peer from its card on behalf of admin `registered_by` (`/regserver`).
///
/// A peer that only said hello so far becomes registered (and so mutual), with the card the
/// admin gave. A peer that is already registered, or another peer with the same name, is
/// [`StorageError::DuplicatePeer`].
pub async fn register_peer(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    card: &PeerCard<'_>,
    registered_by: u64,
) -> Result<Peer, StorageError> {
    sqlx::query_as::<_, Peer>(
        "INSERT INTO peers (server_guild_id, name, guild_id, webhook_url, verify_key, sealing_key,
                            registered_by, registered_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
         ON CONFLICT (server_guild_id, guild_id) DO UPDATE SET
             name = EXCLUDED.name,
             webhook_url = EXCLUDED.webhook_url,
             verify_key = EXCLUDED.verify_key,
             sealing_key = EXCLUDED.sealing_key,
             registered_by = EXCLUDED.registered_by,
             registered_at = now()
         WHERE peers.registered_at IS NULL
         RETURNING *",
    )
    .bind(sf(server_guild_id)?)
    .bind(card.name)
    .bind(sf(card.guild_id)?)
    .bind(card.webhook_url.expose())
    .bind(&card.verify_key.0[..])
    .bind(&card.sealing_key.0[..])
    .bind(sf(registered_by)?)
    .fetch_optional(executor)
    .await?
    .ok_or(StorageError::DuplicatePeer)
}

/// Records a verified `peer.hello`: the sender registered us.
///
/// An unknown sender is stored unregistered, for an admin to accept; a known one becomes
/// mutual if we registered it too. The card's name and webhook replace the stored ones (the
/// peer may have run `/setup` again); its keys replace them only while we have not registered
/// the peer, since a registered peer's identity is its key.
pub async fn record_hello(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    card: &PeerCard<'_>,
) -> Result<Peer, StorageError> {
    Ok(sqlx::query_as::<_, Peer>(
        "INSERT INTO peers (server_guild_id, name, guild_id, webhook_url, verify_key, sealing_key,
                            hello_received_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, now(), now())
         ON CONFLICT (server_guild_id, guild_id) DO UPDATE SET
             name = EXCLUDED.name,
             webhook_url = EXCLUDED.webhook_url,
             verify_key = CASE WHEN peers.registered_at IS NULL
                               THEN EXCLUDED.verify_key ELSE peers.verify_key END,
             sealing_key = CASE WHEN peers.registered_at IS NULL
                                THEN EXCLUDED.sealing_key ELSE peers.sealing_key END,
             hello_received_at = now(),
             last_seen_at = now()
         RETURNING *",
    )
    .bind(sf(server_guild_id)?)
    .bind(card.name)
    .bind(sf(card.guild_id)?)
    .bind(card.webhook_url.expose())
    .bind(&card.verify_key.0[..])
    .bind(&card.sealing_key.0[..])
    .fetch_one(executor)
    .await?)
}

/// Accepts a peer that said hello (the Accept button): registered by `admin`, and so mutual.
///
/// Returns `None` when there is no such peer or it was already registered.
pub async fn accept_peer(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    peer_id: i64,
    admin: u64,
) -> Result<Option<Peer>, StorageError> {
    Ok(sqlx::query_as::<_, Peer>(
        "UPDATE peers SET registered_by = $3, registered_at = now()
         WHERE server_guild_id = $1 AND id = $2 AND registered_at IS NULL
         RETURNING *",
    )
    .bind(sf(server_guild_id)?)
    .bind(peer_id)
    .bind(sf(admin)?)
    .fetch_optional(executor)
    .await?)
}

/// The peer of our server named `name`.
pub async fn peer_by_name(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    name: &str,
) -> Result<Option<Peer>, StorageError> {
    Ok(
        sqlx::query_as::<_, Peer>("SELECT * FROM peers WHERE server_guild_id = $1 AND name = $2")
            .bind(sf(server_guild_id)?)
            .bind(name)
            .fetch_optional(executor)
            .await?,
    )
}

/// The peer of our server in guild `guild_id`: a hello is matched by guild, so a renamed peer
/// is recognised and an impostor with a stolen guild id is caught by its key.
pub async fn peer_by_guild(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    guild_id: u64,
) -> Result<Option<Peer>, StorageError> {
    Ok(sqlx::query_as::<_, Peer>(
        "SELECT * FROM peers WHERE server_guild_id = $1 AND guild_id = $2",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(guild_id)?)
    .fetch_optional(executor)
    .await?)
}

/// The peer with row id `peer_id`.
pub async fn peer(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
) -> Result<Option<Peer>, StorageError> {
    Ok(
        sqlx::query_as::<_, Peer>("SELECT * FROM peers WHERE id = $1")
            .bind(peer_id)
            .fetch_optional(executor)
            .await?,
    )
}

/// Every peer our server knows, by name.
pub async fn list_peers(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
) -> Result<Vec<Peer>, StorageError> {
    Ok(
        sqlx::query_as::<_, Peer>("SELECT * FROM peers WHERE server_guild_id = $1 ORDER BY name")
            .bind(sf(server_guild_id)?)
            .fetch_all(executor)
            .await?,
    )
}

/// Peers whose names start with `prefix`, for autocomplete (at most `limit`).
pub async fn peer_names_starting_with(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    prefix: &str,
    limit: i64,
) -> Result<Vec<String>, StorageError> {
    // Names are [a-z0-9-], so the prefix needs no LIKE escaping once it is reduced to them.
    let prefix: String = prefix
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    Ok(sqlx::query_scalar(
        "SELECT name FROM peers WHERE server_guild_id = $1 AND name LIKE $2 || '%'
         ORDER BY name LIMIT $3",
    )
    .bind(sf(server_guild_id)?)
    .bind(prefix)
    .bind(limit)
    .fetch_all(executor)
    .await?)
}

/// Removes a peer and everything learned from it (`/unregserver`); returns what was removed.
pub async fn remove_peer(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    name: &str,
) -> Result<Option<Peer>, StorageError> {
    Ok(sqlx::query_as::<_, Peer>(
        "DELETE FROM peers WHERE server_guild_id = $1 AND name = $2 RETURNING *",
    )
    .bind(sf(server_guild_id)?)
    .bind(name)
    .fetch_optional(executor)
    .await?)
}

/// Records a verified `peer.bye`: forgets the peer's destinations and its registration of us.
///
/// A peer our admin never registered is forgotten entirely; one we registered stays, no longer
/// mutual, so its next hello makes it mutual again. Returns whether the peer was known.
pub async fn record_bye(executor: impl PgExecutor<'_>, peer_id: i64) -> Result<bool, StorageError> {
    // One statement, so the destinations and the peer change together.
    let touched: i64 = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM destinations WHERE peer_id = $1),
              dropped AS (DELETE FROM peers WHERE id = $1 AND registered_at IS NULL RETURNING id),
              kept AS (UPDATE peers SET hello_received_at = NULL
                       WHERE id = $1 AND registered_at IS NOT NULL RETURNING id)
         SELECT count(*) FROM (SELECT id FROM dropped UNION ALL SELECT id FROM kept) AS peer",
    )
    .bind(peer_id)
    .fetch_one(executor)
    .await?;
    Ok(touched > 0)
}

/// A registered peer's key rotation, accepted because the hello carrying its new card was
/// signed by the key we had for it.
pub async fn rotate_peer_keys(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
    verify_key: &PublicKey,
    sealing_key: &PublicKey,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE peers SET verify_key = $2, sealing_key = $3 WHERE id = $1")
        .bind(peer_id)
        .bind(&verify_key.0[..])
        .bind(&sealing_key.0[..])
        .execute(executor)
        .await?;
    Ok(())
}

/// Notes that the peer showed it knows our current keys.
pub async fn confirm_key(executor: impl PgExecutor<'_>, peer_id: i64) -> Result<(), StorageError> {
    sqlx::query("UPDATE peers SET key_confirmed_at = now() WHERE id = $1")
        .bind(peer_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Claims the answer to a hello: true (and noted) when no sync went to the peer within
/// `window` (in answer to a hello or not), false when one did (the hello is then not answered).
pub async fn claim_hello_sync(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
    window: std::time::Duration,
) -> Result<bool, StorageError> {
    let claimed = sqlx::query(
        "UPDATE peers SET last_sync_sent_at = now()
         WHERE id = $1
           AND (last_sync_sent_at IS NULL
                OR last_sync_sent_at < now() - make_interval(secs => $2))",
    )
    .bind(peer_id)
    .bind(window.as_secs_f64())
    .execute(executor)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Notes that a sync just went to the peer (whatever caused it): a hello within the window
/// after it is not answered with another.
pub async fn note_sync_sent(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE peers SET last_sync_sent_at = now() WHERE id = $1")
        .bind(peer_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Marks the peer unreachable with `reason` (its master webhook refused us), or reachable
/// again with `None` (a ping got through).
pub async fn set_unreachable(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
    reason: Option<&str>,
) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE peers SET unreachable_reason = $2,
                          unreachable_at = CASE WHEN $2::text IS NULL THEN NULL
                                                ELSE coalesce(unreachable_at, now()) END
         WHERE id = $1",
    )
    .bind(peer_id)
    .bind(reason)
    .execute(executor)
    .await?;
    Ok(())
}

/// Notes that a verified envelope from the peer arrived now.
pub async fn touch_peer(executor: impl PgExecutor<'_>, peer_id: i64) -> Result<(), StorageError> {
    sqlx::query("UPDATE peers SET last_seen_at = now() WHERE id = $1")
        .bind(peer_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Records an answered ping and its round trip.
pub async fn record_ping(
    executor: impl PgExecutor<'_>,
    peer_id: i64,
    rtt_ms: i32,
) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE peers SET last_ping_at = now(), last_ping_rtt_ms = $2, last_seen_at = now()
         WHERE id = $1",
    )
    .bind(peer_id)
    .bind(rtt_ms)
    .execute(executor)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;
    use crate::destinations::{self, Announced};
    use crate::{SecretString, fixtures};

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn registered_then_hello_is_mutual(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let registered = register_peer(&pool, 100, &fixtures::card("beta", 200), 42)
            .await
            .unwrap();
        assert!(!registered.mutual);
        assert_eq!(registered.registered_by, Some(42));
        assert_eq!(
            registered.webhook_url.expose(),
            "https://discord.com/api/webhooks/200/secret"
        );

        let mut renamed = fixtures::card("beta-two", 200);
        renamed.verify_key = PublicKey([9; 32]);
        let mutual = record_hello(&pool, 100, &renamed).await.unwrap();
        assert!(mutual.mutual);
        assert_eq!(mutual.id, registered.id);
        assert_eq!(
            mutual.name, "beta-two",
            "the hello carries the peer's new name"
        );
        assert_eq!(
            mutual.verify_key,
            PublicKey([3; 32]),
            "a registered peer's key stays"
        );
        assert!(mutual.last_seen_at.is_some());

        let again = register_peer(&pool, 100, &fixtures::card("beta-two", 200), 43)
            .await
            .unwrap_err();
        assert!(matches!(again, StorageError::DuplicatePeer), "{again:?}");
        let same_name = register_peer(&pool, 100, &fixtures::card("beta-two", 300), 43)
            .await
            .unwrap_err();
        assert!(
            matches!(same_name, StorageError::DuplicatePeer),
            "{same_name:?}"
        );
        let bad_name = register_peer(&pool, 100, &fixtures::card("Bad Name", 400), 43)
            .await
            .unwrap_err();
        assert!(
            matches!(bad_name, StorageError::InvalidServerName),
            "{bad_name:?}"
        );
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn hello_then_accept_or_register_is_mutual(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let pending = record_hello(&pool, 100, &fixtures::card("beta", 200))
            .await
            .unwrap();
        assert!(!pending.mutual);
        assert_eq!(pending.registered_by, None);
        let accepted = accept_peer(&pool, 100, pending.id, 42)
            .await
            .unwrap()
            .unwrap();
        assert!(accepted.mutual);
        assert_eq!(accepted.registered_by, Some(42));
        assert!(
            accept_peer(&pool, 100, pending.id, 42)
                .await
                .unwrap()
                .is_none(),
            "only once"
        );
        assert!(accept_peer(&pool, 100, 999, 42).await.unwrap().is_none());

        let other = record_hello(&pool, 100, &fixtures::card("gamma", 300))
            .await
            .unwrap();
        let registered = register_peer(&pool, 100, &fixtures::card("gamma", 300), 42)
            .await
            .unwrap();
        assert_eq!(registered.id, other.id);
        assert!(registered.mutual);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn look_ups_pings_and_removal(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let beta = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        fixtures::mutual_peer(&pool, 100, "bravo", 300).await;
        fixtures::mutual_peer(&pool, 100, "charlie", 400).await;

        assert_eq!(
            peer_by_name(&pool, 100, "beta").await.unwrap().unwrap().id,
            beta.id
        );
        assert!(peer_by_name(&pool, 100, "delta").await.unwrap().is_none());
        assert_eq!(peer(&pool, beta.id).await.unwrap().unwrap().name, "beta");
        let names: Vec<String> = list_peers(&pool, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name.to_string())
            .collect();
        assert_eq!(names, ["beta", "bravo", "charlie"]);
        assert_eq!(
            peer_names_starting_with(&pool, 100, "b", 25).await.unwrap(),
            ["beta", "bravo"]
        );
        assert_eq!(
            peer_names_starting_with(&pool, 100, "b%", 25)
                .await
                .unwrap(),
            ["beta", "bravo"]
        );
        assert_eq!(
            peer_names_starting_with(&pool, 100, "", 1).await.unwrap(),
            ["beta"]
        );

        let registered_only = register_peer(&pool, 100, &fixtures::card("delta", 500), 42)
            .await
            .unwrap();
        assert!(registered_only.last_seen_at.is_none());
        touch_peer(&pool, registered_only.id).await.unwrap();
        let seen = peer(&pool, registered_only.id).await.unwrap().unwrap();
        assert!(seen.last_seen_at.is_some(), "an envelope from it arrived");

        record_ping(&pool, beta.id, 87).await.unwrap();
        let pinged = peer(&pool, beta.id).await.unwrap().unwrap();
        assert_eq!(pinged.last_ping_rtt_ms, Some(87));
        assert!(pinged.last_ping_at.is_some());

        let removed = remove_peer(&pool, 100, "beta").await.unwrap().unwrap();
        assert_eq!(removed.id, beta.id);
        assert!(remove_peer(&pool, 100, "beta").await.unwrap().is_none());
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn bye_forgets_what_the_peer_told_us(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let registered = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let unregistered = record_hello(&pool, 100, &fixtures::card("gamma", 300))
            .await
            .unwrap();
        let token = SecretString::new("tok");
        let announced = Announced {
            member_id: 7,
            member_name: "Taro",
            channel_id: 70,
            thread_id: None,
            webhook_id: 700,
            webhook_token: &token,
        };
        destinations::announce(&pool, registered.id, &announced, None)
            .await
            .unwrap();

        assert!(record_bye(&pool, registered.id).await.unwrap());
        let kept = peer(&pool, registered.id).await.unwrap().unwrap();
        assert!(!kept.mutual, "no longer mutual");
        assert!(kept.registered_at.is_some(), "our registration stays");
        assert!(
            destinations::destinations_of_member(&pool, 100, 7)
                .await
                .unwrap()
                .is_empty()
        );
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM destinations")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 0);

        assert!(record_bye(&pool, unregistered.id).await.unwrap());
        assert!(
            peer(&pool, unregistered.id).await.unwrap().is_none(),
            "forgotten entirely"
        );
        assert!(!record_bye(&pool, unregistered.id).await.unwrap());
    }
}
