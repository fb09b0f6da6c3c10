//! The one error type of the handlers: a refusal with its sentence for the member, the
//! database out of reach, or a failure of ours.

use kakusan_storage::{SqlError, StorageError};

use crate::i18n::Lang;

/// What can go wrong in a handler.
///
/// Storage errors convert by what they mean ([`StorageError::is_unavailable`] becomes
/// [`HandlerError::Unavailable`]), so handlers raise everything with `?` and the member's
/// sentence follows from the variant alone: nothing downcasts or walks an error chain. A
/// storage result must therefore not be wrapped in `anyhow` context on its way, or an outage
/// would read as a failure of ours.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandlerError {
    /// The member asked for something that cannot be; the sentence says why. Not a failure:
    /// it is not logged as one.
    #[error("{0}")]
    Refused(String),
    /// The database cannot be reached right now: nothing was changed, nothing is lost.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] StorageError),
    /// Anything else; not the member's to fix. The details go to the log only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A handler's result.
pub(crate) type Outcome<T> = Result<T, HandlerError>;

impl HandlerError {
    /// A refusal with the sentence to show.
    pub(crate) fn refused(sentence: impl Into<String>) -> Self {
        HandlerError::Refused(sentence.into())
    }

    /// Whether the database was out of reach.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(self, HandlerError::Unavailable(_))
    }

    /// The sentence the member sees for this error, in their language. A refusal was worded
    /// where it was raised, in the same language.
    pub(crate) fn sentence(&self, lang: Lang) -> String {
        match self {
            HandlerError::Refused(sentence) => sentence.clone(),
            HandlerError::Unavailable(_) => crate::tr!(lang, "storage-unavailable"),
            HandlerError::Internal(_) => crate::tr!(lang, "internal-error"),
        }
    }
}

impl From<StorageError> for HandlerError {
    fn from(error: StorageError) -> Self {
        if error.is_unavailable() {
            HandlerError::Unavailable(error)
        } else {
            HandlerError::Internal(error.into())
        }
    }
}

impl From<SqlError> for HandlerError {
    fn from(error: SqlError) -> Self {
        StorageError::from(error).into()
    }
}

impl From<twilight_http::Error> for HandlerError {
    fn from(error: twilight_http::Error) -> Self {
        HandlerError::Internal(error.into())
    }
}

impl From<twilight_http::response::DeserializeBodyError> for HandlerError {
    fn from(error: twilight_http::response::DeserializeBodyError) -> Self {
        HandlerError::Internal(error.into())
    }
}

/// Runs a message event's handler again while the database is unavailable (with backoff,
/// for up to [`OUTAGE_PATIENCE`]): Discord will not send the event a second time, so
/// giving up at the first failure would lose a member's post or a peer's envelope. Events
/// of the same channel wait behind it, in order.
pub(crate) async fn through_outage<T, F, Fut>(mut handler: F) -> Outcome<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Outcome<T>>,
{
    let deadline = tokio::time::Instant::now() + OUTAGE_PATIENCE;
    let mut delay = std::time::Duration::from_millis(500);
    loop {
        match handler().await {
            Err(error) if error.is_unavailable() && tokio::time::Instant::now() < deadline => {
                tracing::warn!("the database is unavailable; the event waits: {error:#}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(30));
            }
            outcome => return outcome,
        }
    }
}

/// How long a message event waits for the database to come back before it is given up.
pub(crate) const OUTAGE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn each_kind_of_error_has_its_sentence() {
        let down = HandlerError::from(StorageError::Unavailable(SqlError::PoolTimedOut));
        assert!(down.is_unavailable());
        assert_eq!(
            down.sentence(Lang::En),
            "Storage unavailable, nothing was lost — try again shortly."
        );
        assert_eq!(
            down.sentence(Lang::Ja),
            "データベースに接続できません。何も失われていません。少し待ってからもう一度お試しください。"
        );
        // A transaction begun on the pool gives sqlx's own error; it means the same.
        assert!(HandlerError::from(SqlError::PoolTimedOut).is_unavailable());
        let refused = HandlerError::refused("Not here.");
        assert_eq!(refused.sentence(Lang::Ja), "Not here.");
        let bug = HandlerError::from(SqlError::RowNotFound);
        assert!(!bug.is_unavailable());
        assert!(bug.sentence(Lang::En).starts_with("Something went wrong"));
        assert!(!HandlerError::from(anyhow::anyhow!("a bug")).is_unavailable());
    }

    fn unavailable() -> HandlerError {
        StorageError::Unavailable(SqlError::PoolTimedOut).into()
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_waits_out_an_outage_and_gives_up_after_its_patience() {
        let calls = AtomicUsize::new(0);
        let outcome = through_outage(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..3 => Err(unavailable()),
                _ => Ok(()),
            }
        })
        .await;
        assert!(outcome.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        let started = tokio::time::Instant::now();
        let outcome: Outcome<()> = through_outage(|| async { Err(unavailable()) }).await;
        assert!(outcome.unwrap_err().is_unavailable());
        assert!(started.elapsed() >= OUTAGE_PATIENCE);

        // Any other error is not the database's absence: no retry.
        let calls = AtomicUsize::new(0);
        let outcome: Outcome<()> = through_outage(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(anyhow::anyhow!("a bug").into())
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
