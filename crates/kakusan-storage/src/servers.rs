//! Servers: guilds of this deployment that ran `/setup`.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::{OptionalId, sf};
use crate::{MaybePrivateKey, PrivateKey, SecretString, ServerName, StorageError};

/// A server as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Server {
    /// The guild this server is.
    #[sqlx(try_from = "i64")]
    pub guild_id: u64,
    /// The federation name, `[a-z0-9-]{2,32}`.
    #[sqlx(try_from = "String")]
    pub name: ServerName,
    /// The private bot-to-bot channel.
    #[sqlx(try_from = "i64")]
    pub botcom_channel_id: u64,
    /// The master webhook in the bot-com channel, through which peers post envelopes.
    #[sqlx(try_from = "i64")]
    pub master_webhook_id: u64,
    /// The master webhook's token.
    #[sqlx(try_from = "String")]
    pub master_webhook_token: SecretString,
    /// The Ed25519 signing seed.
    #[sqlx(try_from = "Vec<u8>")]
    pub signing_key: PrivateKey,
    /// The X25519 secret that opens sealed webhook URLs.
    #[sqlx(try_from = "Vec<u8>")]
    pub sealing_key: PrivateKey,
    /// The newest message of the bot-com channel already handled; `None` until the first.
    /// Envelopes that arrived while kakusan was away are read from here on.
    #[sqlx(try_from = "OptionalId")]
    pub envelopes_read_until: Option<u64>,
    /// When `/setup` first ran.
    pub created_at: DateTime<Utc>,
    /// When `/setup` last ran.
    pub updated_at: DateTime<Utc>,
    /// The signing seed before the last rotation, until every peer confirmed the new card.
    #[sqlx(try_from = "Option<Vec<u8>>")]
    pub previous_signing_key: MaybePrivateKey,
    /// The sealing secret before the last rotation, likewise: what peers sealed to the old key
    /// meanwhile still opens with it.
    #[sqlx(try_from = "Option<Vec<u8>>")]
    pub previous_sealing_key: MaybePrivateKey,
    /// When the keys were last rotated.
    pub keys_rotated_at: Option<DateTime<Utc>>,
    /// Whether the master webhook is to be replaced: a peer that held it was removed.
    pub master_rotation_pending: bool,
    /// The guild's language as Discord names it (`ja`, `en-US`, …), for what kakusan writes
    /// without a member's interaction (bot-com lines, notices); `None` until Discord said.
    pub locale: Option<String>,
}

/// What `/setup` stores.
#[derive(Debug)]
pub struct NewServer<'a> {
    /// The guild.
    pub guild_id: u64,
    /// The federation name.
    pub name: &'a str,
    /// The bot-com channel.
    pub botcom_channel_id: u64,
    /// The master webhook just created in the bot-com channel.
    pub master_webhook_id: u64,
    /// Its token.
    pub master_webhook_token: &'a SecretString,
    /// A fresh signing seed; kept only when the server is new.
    pub signing_key: &'a PrivateKey,
    /// A fresh sealing secret; kept only when the server is new.
    pub sealing_key: &'a PrivateKey,
}

/// Creates the server, or updates its name, channel and webhook when `/setup` runs again.
///
/// The key pairs of an existing server are kept: peers know it by its verify key, and a new key
/// would make every peer reject it.
pub async fn upsert_server(
    executor: impl PgExecutor<'_>,
    server: &NewServer<'_>,
) -> Result<Server, StorageError> {
    let row = sqlx::query_as::<_, Server>(
        "INSERT INTO servers (guild_id, name, botcom_channel_id, master_webhook_id,
                              master_webhook_token, signing_key, sealing_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (guild_id) DO UPDATE SET
             name = EXCLUDED.name,
             botcom_channel_id = EXCLUDED.botcom_channel_id,
             master_webhook_id = EXCLUDED.master_webhook_id,
             master_webhook_token = EXCLUDED.master_webhook_token,
             envelopes_read_until = CASE
                 WHEN servers.master_webhook_id = EXCLUDED.master_webhook_id
                 THEN servers.envelopes_read_until END,
             updated_at = now()
         RETURNING *",
    )
    .bind(sf(server.guild_id)?)
    .bind(server.name)
    .bind(sf(server.botcom_channel_id)?)
    .bind(sf(server.master_webhook_id)?)
    .bind(server.master_webhook_token.expose())
    .bind(&server.signing_key.expose()[..])
    .bind(&server.sealing_key.expose()[..])
    .fetch_one(executor)
    .await?;
    Ok(row)
}

/// Marks (or clears) the master webhook for replacement.
pub async fn set_master_rotation_pending(
    executor: impl PgExecutor<'_>,
    guild_id: u64,
    pending: bool,
) -> Result<(), StorageError> {
    sqlx::query("UPDATE servers SET master_rotation_pending = $2 WHERE guild_id = $1")
        .bind(sf(guild_id)?)
        .bind(pending)
        .execute(executor)
        .await?;
    Ok(())
}

/// Puts a new master webhook in place and clears its pending rotation. The bot-com channel is
/// read from the new webhook's creation on, as after `/setup` with a new webhook.
pub async fn replace_master_webhook(
    executor: impl PgExecutor<'_>,
    guild_id: u64,
    webhook_id: u64,
    webhook_token: &SecretString,
) -> Result<Server, StorageError> {
    sqlx::query_as::<_, Server>(
        "UPDATE servers SET master_webhook_id = $2, master_webhook_token = $3,
                            master_rotation_pending = false, envelopes_read_until = NULL,
                            updated_at = now()
         WHERE guild_id = $1 RETURNING *",
    )
    .bind(sf(guild_id)?)
    .bind(sf(webhook_id)?)
    .bind(webhook_token.expose())
    .fetch_optional(executor)
    .await?
    .ok_or(StorageError::NotFound("server"))
}

/// Rotates the server's key pairs (`/setup rotate_keys:true`): the new ones become current,
/// the current ones are kept as the previous ones until every peer confirmed the new card.
pub async fn rotate_server_keys(
    executor: impl PgExecutor<'_>,
    guild_id: u64,
    signing_key: &PrivateKey,
    sealing_key: &PrivateKey,
) -> Result<Server, StorageError> {
    sqlx::query_as::<_, Server>(
        "UPDATE servers SET previous_signing_key = signing_key,
                            previous_sealing_key = sealing_key,
                            signing_key = $2, sealing_key = $3,
                            keys_rotated_at = now(), updated_at = now()
         WHERE guild_id = $1
         RETURNING *",
    )
    .bind(sf(guild_id)?)
    .bind(&signing_key.expose()[..])
    .bind(&sealing_key.expose()[..])
    .fetch_optional(executor)
    .await?
    .ok_or(StorageError::NotFound("server"))
}

/// Forgets the previous keys once no peer can still be using them: every registered peer has
/// confirmed the new card since the rotation. Returns whether they were forgotten now.
pub async fn forget_previous_keys_if_confirmed(
    executor: impl PgExecutor<'_>,
    guild_id: u64,
) -> Result<bool, StorageError> {
    let forgotten = sqlx::query(
        "UPDATE servers s SET previous_signing_key = NULL, previous_sealing_key = NULL
         WHERE s.guild_id = $1 AND s.previous_sealing_key IS NOT NULL
           AND NOT EXISTS (
               SELECT 1 FROM peers p
               WHERE p.server_guild_id = s.guild_id AND p.registered_at IS NOT NULL
                 AND (p.key_confirmed_at IS NULL OR p.key_confirmed_at < s.keys_rotated_at))",
    )
    .bind(sf(guild_id)?)
    .execute(executor)
    .await?;
    Ok(forgotten.rows_affected() == 1)
}

/// The server of `guild_id`, if that guild ran `/setup`.
pub async fn server(
    executor: impl PgExecutor<'_>,
    guild_id: u64,
) -> Result<Option<Server>, StorageError> {
    Ok(
        sqlx::query_as::<_, Server>("SELECT * FROM servers WHERE guild_id = $1")
            .bind(sf(guild_id)?)
            .fetch_optional(executor)
            .await?,
    )
}

/// Records the guild's language (its `preferred_locale`, or an interaction's `guild_locale`).
/// A guild that is no server yet has nothing to record; an unchanged locale writes nothing.
pub async fn set_locale(
    executor: impl PgExecutor<'_>,
    guild_id: u64,
    locale: &str,
) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE servers SET locale = $2 WHERE guild_id = $1 AND locale IS DISTINCT FROM $2",
    )
    .bind(sf(guild_id)?)
    .bind(locale)
    .execute(executor)
    .await?;
    Ok(())
}

/// The server whose bot-com channel is `channel_id`, where envelopes arrive.
pub async fn server_by_botcom_channel(
    executor: impl PgExecutor<'_>,
    channel_id: u64,
) -> Result<Option<Server>, StorageError> {
    Ok(
        sqlx::query_as::<_, Server>("SELECT * FROM servers WHERE botcom_channel_id = $1")
            .bind(sf(channel_id)?)
            .fetch_optional(executor)
            .await?,
    )
}

/// Notes that the bot-com channel was handled up to message `message_id`. The mark only moves
/// forward, so handling an older message late does not move it back.
pub async fn advance_envelope_cursor(
    executor: impl PgExecutor<'_>,
    guild_id: u64,
    message_id: u64,
) -> Result<(), StorageError> {
    sqlx::query(
        "UPDATE servers SET envelopes_read_until = GREATEST(envelopes_read_until, $2)
         WHERE guild_id = $1",
    )
    .bind(sf(guild_id)?)
    .bind(sf(message_id)?)
    .execute(executor)
    .await?;
    Ok(())
}

/// Every server of this deployment, by name.
pub async fn list_servers(executor: impl PgExecutor<'_>) -> Result<Vec<Server>, StorageError> {
    Ok(
        sqlx::query_as::<_, Server>("SELECT * FROM servers ORDER BY name")
            .fetch_all(executor)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;
    use crate::fixtures;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn the_locale_is_recorded_for_servers_only(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let locale =
            |pool: PgPool| async move { super::server(&pool, 100).await.unwrap().unwrap().locale };
        assert_eq!(locale(pool.clone()).await, None);
        set_locale(&pool, 100, "ja").await.unwrap();
        assert_eq!(locale(pool.clone()).await.as_deref(), Some("ja"));
        set_locale(&pool, 100, "en-US").await.unwrap();
        assert_eq!(locale(pool.clone()).await.as_deref(), Some("en-US"));
        // A guild without /setup: nothing to record, and no error.
        set_locale(&pool, 200, "ja").await.unwrap();
        assert!(super::server(&pool, 200).await.unwrap().is_none());
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn the_envelope_cursor_only_moves_forward_and_restarts_with_a_new_webhook(pool: PgPool) {
        let server = fixtures::server(&pool, 100, "alpha").await;
        assert_eq!(server.envelopes_read_until, None);
        advance_envelope_cursor(&pool, 100, 50).await.unwrap();
        advance_envelope_cursor(&pool, 100, 40).await.unwrap();
        let read = |pool: PgPool| async move {
            super::server(&pool, 100)
                .await
                .unwrap()
                .unwrap()
                .envelopes_read_until
        };
        assert_eq!(read(pool.clone()).await, Some(50));

        // /setup again with the same webhook keeps the mark; a new webhook starts afresh.
        let again = |webhook: u64| NewServer {
            guild_id: 100,
            name: "alpha",
            botcom_channel_id: server.botcom_channel_id,
            master_webhook_id: webhook,
            master_webhook_token: &server.master_webhook_token,
            signing_key: &server.signing_key,
            sealing_key: &server.sealing_key,
        };
        upsert_server(&pool, &again(server.master_webhook_id))
            .await
            .unwrap();
        assert_eq!(read(pool.clone()).await, Some(50));
        upsert_server(&pool, &again(999)).await.unwrap();
        assert_eq!(read(pool.clone()).await, None);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn setup_again_keeps_keys_and_changes_the_rest(pool: PgPool) {
        let first = fixtures::server(&pool, 100, "alpha").await;
        let token = SecretString::new("new-token");
        let again = upsert_server(
            &pool,
            &NewServer {
                guild_id: 100,
                name: "alpha-two",
                botcom_channel_id: 555,
                master_webhook_id: 556,
                master_webhook_token: &token,
                signing_key: &PrivateKey::new([9; 32]),
                sealing_key: &PrivateKey::new([9; 32]),
            },
        )
        .await
        .unwrap();
        assert_eq!(again.name, "alpha-two");
        assert_eq!(again.botcom_channel_id, 555);
        assert_eq!(again.master_webhook_token.expose(), "new-token");
        assert_eq!(again.signing_key, first.signing_key);
        assert_eq!(again.sealing_key, first.sealing_key);
        assert!(again.updated_at >= first.updated_at);

        let read = server(&pool, 100).await.unwrap().unwrap();
        assert_eq!(read.name, "alpha-two");
        let by_channel = server_by_botcom_channel(&pool, 555).await.unwrap().unwrap();
        assert_eq!(by_channel.guild_id, 100);
        assert!(server(&pool, 999).await.unwrap().is_none());
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn names_are_unique_and_well_formed(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let token = SecretString::new("t");
        let key = PrivateKey::new([0; 32]);
        let mut new = NewServer {
            guild_id: 200,
            name: "alpha",
            botcom_channel_id: 1,
            master_webhook_id: 2,
            master_webhook_token: &token,
            signing_key: &key,
            sealing_key: &key,
        };
        let duplicate = upsert_server(&pool, &new).await.unwrap_err();
        assert!(
            matches!(duplicate, StorageError::DuplicateServerName),
            "{duplicate:?}"
        );
        for bad in ["A", "Upper", "with space", "x", &"a".repeat(33)] {
            new.name = bad;
            let error = upsert_server(&pool, &new).await.unwrap_err();
            assert!(
                matches!(error, StorageError::InvalidServerName),
                "{bad}: {error:?}"
            );
        }
        assert_eq!(list_servers(&pool).await.unwrap().len(), 1);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn ids_beyond_bigint_are_refused(pool: PgPool) {
        let error = server(&pool, u64::MAX).await.unwrap_err();
        assert!(matches!(error, StorageError::IdOutOfRange(u64::MAX)));
    }
}
