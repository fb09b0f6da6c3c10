//! `/pause` and `/resume`: a member holds back their relays from this server, and lets them go.
//!
//! A pause is per member per server (the guild where they typed it): their `/here`s and
//! mirrored posts there are still stored, in order, and wait in the outbox (the delivery engine
//! passes over them) until `/resume`, when they leave in the order they were posted. Their
//! relays from other servers are not affected.

use std::sync::Arc;

use kakusan_storage::pauses;

use crate::context::Context;
use crate::error::Outcome;
use crate::i18n::Lang;
use crate::interaction::{Ctx, Reply};

/// `/pause` and `/resume`. They hold no state of their own: a pause is a row.
pub(crate) struct Pauses {
    ctx: Arc<Context>,
}

impl Pauses {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// `/pause`: the member's queued relays and every later one wait.
    pub(crate) async fn pause(&self, ctx: &Ctx) -> Outcome<Reply> {
        // Only a server that ran /setup relays anything.
        self.ctx.local(ctx.guild(), ctx.lang).await?;
        let mut transaction = self.ctx.pool.begin().await?;
        let held = pauses::pause(&mut transaction, ctx.guild(), ctx.user()).await?;
        transaction.commit().await?;
        Ok(Reply::text(match held {
            Some(held) => {
                tracing::info!(held, "member paused their relays");
                crate::tr!(ctx.lang, "pause-done", waiting = held)
            }
            None => crate::tr!(ctx.lang, "pause-already"),
        }))
    }

    /// `/resume`: what waited leaves, in the order it was posted.
    pub(crate) async fn resume(&self, ctx: &Ctx) -> Outcome<Reply> {
        let mut transaction = self.ctx.pool.begin().await?;
        let released = pauses::resume(&mut transaction, ctx.guild(), ctx.user()).await?;
        transaction.commit().await?;
        Ok(Reply::text(match released {
            Some(released) => {
                tracing::info!(released, "member resumed their relays");
                crate::tr!(ctx.lang, "resume-done", released = released)
            }
            None => crate::tr!(ctx.lang, "resume-not-paused"),
        }))
    }
}

/// The line `/sharelist` starts with while the member is paused here.
pub(crate) async fn sharelist_line(context: &Context, ctx: &Ctx) -> Outcome<Option<String>> {
    let since = pauses::paused_since(&context.pool, ctx.guild(), ctx.user()).await?;
    Ok(since.map(|since| crate::tr!(ctx.lang, "pause-sharelist", since = since.timestamp())))
}

/// `/here`'s answer when the member is paused: the relay is stored and waits.
pub(crate) fn here_paused(lang: Lang, destinations: usize) -> Reply {
    Reply::text(crate::tr!(lang, "pause-here-queued", count = destinations))
}

/// `/queue`'s state of a relay that waits for `/resume`.
pub(crate) fn queue_state(lang: Lang) -> String {
    crate::tr!(lang, "pause-queue-state")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replies_exist_in_japanese_and_english() {
        assert_eq!(
            here_paused(Lang::Ja, 2).text,
            "一時停止中のため、2 件の中継先への投稿は保留されました。/resume すると送信されます。"
        );
        assert_eq!(
            here_paused(Lang::En, 2).text,
            "Paused: your relay to 2 destinations is queued and leaves when you /resume."
        );
        assert_eq!(queue_state(Lang::Ja), "一時停止中（/resume で送信）");
        let resumed = crate::tr!(Lang::Ja, "resume-done", released = 4);
        assert_eq!(resumed, "再開しました。保留中の 4 件を投稿順に中継します。");
        let paused = crate::tr!(Lang::En, "pause-done", waiting = 1);
        assert!(paused.ends_with("1 queued copy waits too."), "{paused}");
    }
}
