//! Postgres storage for kakusan: servers, peers, times, destinations, the outbox, the copy map,
//! seen envelope ids and command usage (SPEC §5), the gateway sessions kept for a restart, and
//! what `/forget-me` removes.
//!
//! This is the only crate that writes SQL. Every function takes `impl PgExecutor<'_>`, so the
//! same call works on the pool or inside a transaction that also writes the state a job comes
//! from. Discord ids cross this boundary as `u64`; they are stored as BIGINT.

#![deny(missing_docs)]

mod error;
mod ids;
mod secret;

pub mod answers;
pub mod blocks;
pub mod catch_ups;
pub mod copies;
pub mod destinations;
pub mod forget;
pub mod gateway_sessions;
pub mod handled;
pub mod locks;
pub mod outbox;
pub mod pauses;
pub mod peers;
pub mod requests;
pub mod seen;
pub mod servers;
pub mod times;
pub mod usage;

pub use error::{StorageError, means_unavailable};
pub use kakusan_types::{SecretString, ServerName, WebhookUrl};
pub use secret::{MaybePrivateKey, PrivateKey, PublicKey};
pub use sqlx::{Error as SqlError, PgConnection, PgPool, Postgres, Transaction};

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

/// The schema migrations in the repository's top-level `migrations/` folder.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Opens a pool on `url`, failing at once (after `acquire_timeout`) if the database cannot be
/// reached, so the caller decides how to wait and what to log. Every later wait for a
/// connection of the pool is bounded by `acquire_timeout` too: during an outage that is how
/// long a query takes to say [`StorageError::Unavailable`].
pub async fn connect(url: &str, acquire_timeout: Duration) -> Result<PgPool, StorageError> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(acquire_timeout)
        .connect(url)
        .await?;
    Ok(pool)
}

/// Asks the database for a trivial answer (`SELECT 1`): whether it can be reached now. The
/// binary's readiness probe and `kakusan check` use it.
pub async fn ping(executor: impl sqlx::PgExecutor<'_>) -> Result<(), StorageError> {
    sqlx::query("SELECT 1").execute(executor).await?;
    Ok(())
}

/// Opens a single connection on `url` and asks it `SELECT 1`. Unlike a pool, whose time-out
/// hides why it got no connection, the error says what went wrong (refused, unknown host,
/// wrong password, no such database); `kakusan check` shows it to the operator. The caller
/// bounds the wait.
pub async fn probe(url: &str) -> Result<(), StorageError> {
    use sqlx::Connection;
    let mut connection = PgConnection::connect(url).await?;
    ping(&mut connection).await?;
    connection.close().await?;
    Ok(())
}

/// Applies every migration not yet applied; applying them again changes nothing.
pub async fn migrate(pool: &PgPool) -> Result<(), StorageError> {
    MIGRATOR.run(pool).await.map_err(|error| match error {
        sqlx::migrate::MigrateError::Execute(inner) => StorageError::from(inner),
        other => StorageError::Database(sqlx::Error::Migrate(Box::new(other))),
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Rows that many tests need.

    use sqlx::PgPool;

    use crate::servers::{self, NewServer};
    use crate::{PrivateKey, PublicKey, SecretString, WebhookUrl, peers};

    /// A server named `name` in guild `guild_id`.
    pub(crate) async fn server(pool: &PgPool, guild_id: u64, name: &str) -> servers::Server {
        servers::upsert_server(
            pool,
            &NewServer {
                guild_id,
                name,
                botcom_channel_id: guild_id + 1,
                master_webhook_id: guild_id + 2,
                master_webhook_token: &SecretString::new(format!("token-{guild_id}")),
                signing_key: &PrivateKey::new([1; 32]),
                sealing_key: &PrivateKey::new([2; 32]),
            },
        )
        .await
        .unwrap()
    }

    /// The card of a peer named `name` in guild `guild_id`.
    pub(crate) fn card(name: &str, guild_id: u64) -> peers::PeerCard<'_> {
        peers::PeerCard {
            name,
            guild_id,
            webhook_url: WebhookUrl::try_from(format!(
                "https://discord.com/api/webhooks/{guild_id}/secret"
            ))
            .unwrap(),
            verify_key: PublicKey([3; 32]),
            sealing_key: PublicKey([4; 32]),
        }
    }

    /// A mutual peer of `server`: registered by an admin and said hello.
    pub(crate) async fn mutual_peer(
        pool: &PgPool,
        server: u64,
        name: &str,
        guild_id: u64,
    ) -> peers::Peer {
        peers::register_peer(pool, server, &card(name, guild_id), 42)
            .await
            .unwrap();
        peers::record_hello(pool, server, &card(name, guild_id))
            .await
            .unwrap()
    }
}
