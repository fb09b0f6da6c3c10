//! Reaching the database at start-up: retried with backoff, and said so, until it answers.

use std::time::Duration;

use anyhow::Context;
use kakusan_storage::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::DatabaseConfig;

/// The first wait after a failed attempt; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long anything waits for a connection: the first one at start-up, and every one a
/// handler or the delivery engine takes from the pool later. While the database is away every
/// wait runs out, and a command must still get its "storage unavailable" answer well inside
/// Discord's 3 seconds, so this is short; a database that takes longer to hand out a
/// connection is overloaded anyway.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Connects, retrying while the database is unreachable; `None` if shutdown came first.
///
/// A database that refuses us for another reason (wrong password, no such database) is not
/// going to change its mind by itself, but the operator may be fixing it right now, so that is
/// retried too, with the reason in every log line.
pub(crate) async fn connect(
    config: &DatabaseConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<PgPool>> {
    let target = config.display_target();
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match kakusan_storage::connect(config.url.expose(), ACQUIRE_TIMEOUT).await {
            Ok(pool) => {
                tracing::info!(%target, attempt, "connected to the database");
                return Ok(Some(pool));
            }
            Err(error) => {
                tracing::warn!(
                    %target,
                    attempt,
                    retry_in_ms = backoff.as_millis() as u64,
                    // `{:#}` prints the error with its causes on one line.
                    error = %format!("{:#}", anyhow::Error::new(error)),
                    "waiting for the database"
                );
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Connects and applies the migrations; `None` if shutdown came first.
pub(crate) async fn connect_and_migrate(
    config: &DatabaseConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<PgPool>> {
    let Some(pool) = connect(config, shutdown).await? else {
        return Ok(None);
    };
    kakusan_storage::migrate(&pool)
        .await
        .context("applying database migrations")?;
    tracing::info!("database schema is up to date");
    Ok(Some(pool))
}
