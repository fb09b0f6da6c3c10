//! Commands waiting for a peer's answer: `/ping` for its pong, `/forget-me` for the peers'
//! confirmations. The answer is an envelope in the bot-com channel, which a scaled-out
//! deployment may hand to another worker than the command's; so the inbound side announces it
//! through PostgreSQL (`storage::answers`), and every process's listener ([`Answers::listen`])
//! hands it to the command waiting for it, if that command runs there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kakusan_storage::PgPool;
use kakusan_storage::answers::{self, AnswerListener};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::Outcome;

/// What a command waits for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Awaited {
    /// The pong to the ping with `nonce` from our server in `guild`.
    Pong { guild: u64, nonce: String },
    /// The answers to the `/forget-me` request `request`.
    Forgotten { request: String },
}

/// A peer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Answer {
    /// The pong, and when it arrived (in the process that read it).
    Pong { at: DateTime<Utc> },
    /// A peer confirmed the request: its name, and how many copies it is deleting.
    Forgotten { peer: String, copies: u32 },
}

/// One announcement: what it answers, and the answer.
#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    awaited: Awaited,
    answer: Answer,
}

/// How long the listener waits before it tries again when it cannot listen.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// The commands of this process waiting for answers.
pub(crate) struct Answers {
    pool: PgPool,
    waiting: Mutex<HashMap<Awaited, mpsc::UnboundedSender<Answer>>>,
}

impl Answers {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            waiting: Mutex::default(),
        }
    }

    /// Waits for the answers to `awaited` from now on (so before the request is sent); the
    /// wait ends when the returned [`Expected`] is dropped.
    pub(crate) fn expect(&self, awaited: Awaited) -> Expected<'_> {
        let (sender, answers) = mpsc::unbounded_channel();
        self.map().insert(awaited.clone(), sender);
        Expected {
            of: self,
            awaited,
            answers,
        }
    }

    /// Announces `answer` to `awaited` to every process of the deployment.
    pub(crate) async fn announce(&self, awaited: Awaited, answer: Answer) -> Outcome<()> {
        let payload =
            serde_json::to_string(&Announcement { awaited, answer }).map_err(anyhow::Error::new)?;
        answers::announce(&self.pool, &payload).await?;
        Ok(())
    }

    /// Hands the announced answers to the commands of this process waiting for them, for as
    /// long as the process runs. Announcements made while it cannot listen are lost: the
    /// command then reports no answer, as it would for a peer that did not answer.
    pub(crate) async fn listen(self: Arc<Self>) {
        loop {
            let mut listener = match AnswerListener::connect(&self.pool).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for peers' answers; trying again");
                    tokio::time::sleep(RELISTEN_AFTER).await;
                    continue;
                }
            };
            loop {
                match listener.recv().await {
                    Ok(payload) => self.deliver(&payload),
                    Err(error) => {
                        tracing::warn!(%error, "lost the connection listening for answers");
                        tokio::time::sleep(RELISTEN_AFTER).await;
                        break;
                    }
                }
            }
        }
    }

    fn deliver(&self, payload: &str) {
        let Ok(Announcement { awaited, answer }) = serde_json::from_str(payload) else {
            tracing::warn!("an unreadable announced answer; ignored");
            return;
        };
        if let Some(waiting) = self.map().get(&awaited) {
            let _ = waiting.send(answer);
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Awaited, mpsc::UnboundedSender<Answer>>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A command's wait for answers; dropping it ends the wait.
pub(crate) struct Expected<'a> {
    of: &'a Answers,
    awaited: Awaited,
    answers: mpsc::UnboundedReceiver<Answer>,
}

impl Expected<'_> {
    /// The next answer, or `None` once `deadline` passed.
    pub(crate) async fn next_before(&mut self, deadline: tokio::time::Instant) -> Option<Answer> {
        tokio::time::timeout_at(deadline, self.answers.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for Expected<'_> {
    fn drop(&mut self) {
        self.of.map().remove(&self.awaited);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_read_back_as_written() {
        let announcement = Announcement {
            awaited: Awaited::Pong {
                guild: u64::MAX,
                nonce: "00ff".into(),
            },
            answer: Answer::Pong { at: Utc::now() },
        };
        let json = serde_json::to_string(&announcement).unwrap();
        let back: Announcement = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (back.awaited, back.answer),
            (announcement.awaited, announcement.answer)
        );
    }
}
