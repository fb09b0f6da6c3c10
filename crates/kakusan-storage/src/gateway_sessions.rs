//! Gateway sessions kept from one process to the next, so a restart resumes instead of
//! identifying and Discord replays what happened while no process was connected.

use std::fmt;
use std::time::Duration;

use sqlx::PgExecutor;

use crate::StorageError;
use crate::ids::sf;

/// One shard's resumable session, as the gateway left it at shutdown.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewaySession {
    /// The shard's number, below `shard_total`.
    pub shard_id: u32,
    /// How many shards the process ran; a session is only resumed by a run with as many.
    pub shard_total: u32,
    /// Discord's id of the session.
    pub session_id: String,
    /// The sequence number of the last event the process handled.
    pub sequence: u64,
    /// Where to send the RESUME (READY's `resume_gateway_url`), if the shard still knew it.
    pub resume_url: Option<String>,
}

impl fmt::Debug for GatewaySession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A session id is not a credential, but it names a live session of the bot; it stays
        // out of logs like everything else a stranger could try to use.
        f.debug_struct("GatewaySession")
            .field("shard_id", &self.shard_id)
            .field("shard_total", &self.shard_total)
            .field("session_id", &"<redacted>")
            .field("sequence", &self.sequence)
            .field("resume_url", &self.resume_url)
            .finish()
    }
}

/// Saves the sessions of `application_id`'s shards, replacing what was saved for the same
/// shards. Returns how many were saved.
///
/// A session whose sequence does not fit a BIGINT is skipped (no gateway gets anywhere near
/// 2^63 events); the shard then identifies anew, which loses nothing that a wrong sequence
/// would not lose too.
pub async fn save_gateway_sessions(
    executor: impl PgExecutor<'_>,
    application_id: u64,
    sessions: &[GatewaySession],
) -> Result<u64, StorageError> {
    let mut shard_ids = Vec::with_capacity(sessions.len());
    let mut shard_totals = Vec::with_capacity(sessions.len());
    let mut session_ids = Vec::with_capacity(sessions.len());
    let mut sequences = Vec::with_capacity(sessions.len());
    let mut resume_urls = Vec::with_capacity(sessions.len());
    for session in sessions {
        let Ok(sequence) = i64::try_from(session.sequence) else {
            tracing::warn!(
                shard = session.shard_id,
                "a gateway session's sequence is out of range; not saved"
            );
            continue;
        };
        shard_ids.push(i64::from(session.shard_id));
        shard_totals.push(i64::from(session.shard_total));
        session_ids.push(session.session_id.as_str());
        sequences.push(sequence);
        resume_urls.push(session.resume_url.as_deref());
    }
    // One statement for every shard, so that it works on a pool as well as in a transaction.
    let result = sqlx::query(
        "INSERT INTO gateway_sessions
             (application_id, shard_id, shard_total, session_id, sequence, resume_url)
         SELECT $1, * FROM UNNEST($2::int8[], $3::int8[], $4::text[], $5::int8[], $6::text[])
         ON CONFLICT (application_id, shard_id, shard_total) DO UPDATE SET
             session_id = EXCLUDED.session_id,
             sequence = EXCLUDED.sequence,
             resume_url = EXCLUDED.resume_url,
             saved_at = now()",
    )
    .bind(sf(application_id)?)
    .bind(shard_ids)
    .bind(shard_totals)
    .bind(session_ids)
    .bind(sequences)
    .bind(resume_urls)
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Takes every saved session of `application_id` out of the table and returns those saved
/// less than `max_age` ago, by shard count and shard.
///
/// The rows are deleted in the same statement, so of two processes starting at once only one
/// gets a session, and a session is never resumed twice. Older rows go too: Discord has
/// forgotten their sessions. The age is measured on the database's clock, which also wrote
/// `saved_at`, so the processes' clocks do not matter.
pub async fn take_gateway_sessions(
    executor: impl PgExecutor<'_>,
    application_id: u64,
    max_age: Duration,
) -> Result<Vec<GatewaySession>, StorageError> {
    take_gateway_sessions_of_slice(executor, application_id, max_age, 0, 1).await
}

/// [`take_gateway_sessions`] for one gateway process of `count`: only the shards `s` with
/// `s % count == index`, which are the ones it holds; the other processes' sessions stay.
pub async fn take_gateway_sessions_of_slice(
    executor: impl PgExecutor<'_>,
    application_id: u64,
    max_age: Duration,
    index: u32,
    count: u32,
) -> Result<Vec<GatewaySession>, StorageError> {
    let rows: Vec<(i64, i64, String, i64, Option<String>)> = sqlx::query_as(
        "WITH taken AS (
             DELETE FROM gateway_sessions
             WHERE application_id = $1 AND shard_id % $3 = $4
             RETURNING *
         )
         SELECT shard_id, shard_total, session_id, sequence, resume_url FROM taken
         WHERE saved_at > now() - make_interval(secs => $2)
         ORDER BY shard_total, shard_id",
    )
    .bind(sf(application_id)?)
    .bind(max_age.as_secs_f64())
    .bind(i64::from(count.max(1)))
    .bind(i64::from(index))
    .fetch_all(executor)
    .await?;
    rows.into_iter()
        .map(
            |(shard_id, shard_total, session_id, sequence, resume_url)| {
                let corrupt = |_| StorageError::CorruptRow("gateway session");
                Ok(GatewaySession {
                    shard_id: u32::try_from(shard_id).map_err(corrupt)?,
                    shard_total: u32::try_from(shard_total).map_err(corrupt)?,
                    session_id,
                    sequence: u64::try_from(sequence).map_err(corrupt)?,
                    resume_url,
                })
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    const WINDOW: Duration = Duration::from_secs(300);

    fn session(shard_id: u32, shard_total: u32, sequence: u64) -> GatewaySession {
        GatewaySession {
            shard_id,
            shard_total,
            session_id: format!("session-{shard_id}-of-{shard_total}"),
            sequence,
            resume_url: Some("wss://gateway-us-east1-b.discord.gg".to_owned()),
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn saved_sessions_are_taken_once_and_only_by_their_application(pool: PgPool) {
        let ours = [session(1, 2, 40), session(0, 2, 7)];
        assert_eq!(save_gateway_sessions(&pool, 10, &ours).await.unwrap(), 2);
        assert_eq!(save_gateway_sessions(&pool, 10, &[]).await.unwrap(), 0);
        let other = [session(0, 1, 3)];
        save_gateway_sessions(&pool, 20, &other).await.unwrap();

        let taken = take_gateway_sessions(&pool, 10, WINDOW).await.unwrap();
        assert_eq!(taken, [session(0, 2, 7), session(1, 2, 40)], "by shard");
        assert!(
            take_gateway_sessions(&pool, 10, WINDOW)
                .await
                .unwrap()
                .is_empty(),
            "a taken session is gone"
        );
        assert_eq!(
            take_gateway_sessions(&pool, 20, WINDOW).await.unwrap(),
            other
        );
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_gateway_process_takes_only_the_sessions_of_its_slice(pool: PgPool) {
        let all = [
            session(0, 4, 1),
            session(1, 4, 2),
            session(2, 4, 3),
            session(3, 4, 4),
        ];
        save_gateway_sessions(&pool, 10, &all).await.unwrap();
        let second = take_gateway_sessions_of_slice(&pool, 10, WINDOW, 1, 2)
            .await
            .unwrap();
        assert_eq!(second, [session(1, 4, 2), session(3, 4, 4)]);
        let first = take_gateway_sessions_of_slice(&pool, 10, WINDOW, 0, 2)
            .await
            .unwrap();
        assert_eq!(first, [session(0, 4, 1), session(2, 4, 3)]);
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_newer_save_replaces_a_shards_session_and_stale_ones_are_dropped(pool: PgPool) {
        save_gateway_sessions(&pool, 10, &[session(0, 1, 5)])
            .await
            .unwrap();
        let newer = GatewaySession {
            session_id: "newer".to_owned(),
            resume_url: None,
            ..session(0, 1, 9)
        };
        save_gateway_sessions(&pool, 10, std::slice::from_ref(&newer))
            .await
            .unwrap();
        // Another shard count is kept apart; the gateway decides what to do with it.
        save_gateway_sessions(&pool, 10, &[session(0, 2, 1)])
            .await
            .unwrap();
        assert_eq!(
            take_gateway_sessions(&pool, 10, WINDOW).await.unwrap(),
            [newer, session(0, 2, 1)]
        );

        save_gateway_sessions(&pool, 10, &[session(0, 1, 5)])
            .await
            .unwrap();
        sqlx::query("UPDATE gateway_sessions SET saved_at = now() - interval '301 seconds'")
            .execute(&pool)
            .await
            .unwrap();
        assert!(
            take_gateway_sessions(&pool, 10, WINDOW)
                .await
                .unwrap()
                .is_empty(),
            "too old to resume"
        );
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM gateway_sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(left, 0, "the stale row is gone as well");
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn two_processes_starting_at_once_never_both_get_a_session(pool: PgPool) {
        save_gateway_sessions(&pool, 10, &[session(0, 1, 5)])
            .await
            .unwrap();
        let (first, second) = tokio::join!(
            take_gateway_sessions(&pool, 10, WINDOW),
            take_gateway_sessions(&pool, 10, WINDOW)
        );
        let taken = first.unwrap().len() + second.unwrap().len();
        assert_eq!(taken, 1);
    }

    #[test]
    fn the_session_id_never_reaches_a_log() {
        let saved = session(0, 1, 5);
        let printed = format!("{saved:?}");
        assert!(!printed.contains(&saved.session_id), "{printed}");
        assert!(printed.contains("sequence: 5"), "{printed}");
    }
}
