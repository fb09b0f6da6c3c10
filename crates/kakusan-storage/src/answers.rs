//! Answers announced across the processes of a deployment: a peer's answer (a pong, a
//! `member.forgotten`) is handled by whichever process reads it, while the command waiting for
//! it may run in another. The handling process announces it with `NOTIFY` on
//! [`ANSWERS_CHANNEL`]; every process listens there. The payload is the caller's (a few hundred
//! bytes of JSON; PostgreSQL takes up to 8000).

use sqlx::PgExecutor;

use crate::StorageError;

/// The channel the answers are announced on.
const ANSWERS_CHANNEL: &str = "kakusan_answers";

/// Announces `payload` to every listening process, at once (or, in a transaction, at commit).
pub async fn announce(executor: impl PgExecutor<'_>, payload: &str) -> Result<(), StorageError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(ANSWERS_CHANNEL)
        .bind(payload)
        .execute(executor)
        .await?;
    Ok(())
}

/// A connection that LISTENs for the announced answers.
pub struct AnswerListener(sqlx::postgres::PgListener);

impl AnswerListener {
    /// Starts listening.
    pub async fn connect(pool: &sqlx::PgPool) -> Result<Self, StorageError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(ANSWERS_CHANNEL).await?;
        Ok(Self(listener))
    }

    /// Waits for the next announced payload. A lost connection is re-established here; what
    /// was announced meanwhile is lost.
    pub async fn recv(&mut self) -> Result<String, StorageError> {
        Ok(self.0.recv().await?.payload().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;

    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn an_announcement_reaches_a_listener(pool: PgPool) {
        let mut listener = AnswerListener::connect(&pool).await.unwrap();
        announce(&pool, r#"{"hello":1}"#).await.unwrap();
        assert_eq!(listener.recv().await.unwrap(), r#"{"hello":1}"#);
    }
}
