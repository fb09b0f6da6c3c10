//! `/forget-me`: a member leaves with everything kakusan holds about them, here and at every
//! mutual peer.
//!
//! **Here** (after the member confirms with the button): their times (its webhook is deleted
//! by an outbox job; the posts in their own times channels stay, they are the member's own
//! messages), their queued and failed jobs, their destinations, and the copies of their posts
//! that this server relayed into peers' channels, each deleted through its destination's
//! webhook by an outbox job. Everything is written in one transaction, so a crash loses
//! nothing: the deletions finish after a restart like any job.
//!
//! **At each mutual peer** (`member.forget`, signed): the peer forgets only what concerns
//! *us*: the member's times that we announced (its destinations for them here) and the copies
//! of the member's posts that it relayed into our channels. That is the rule that keeps a
//! hostile peer harmless: what it can make us forget is what it told us itself and the copies
//! in its own server, which it could delete anyway. The member's times at the peer, and the
//! copies it relayed elsewhere, stay until the member runs `/forget-me` there too; the peer
//! tells them so in that times channel. The peer answers `member.forgotten` with the number of
//! copies it is deleting; until it has, `/sharelist` names it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kakusan_delivery::{RelayJob, enqueue_delete, enqueue_webhook_deletion_at};
use kakusan_protocol::rand_core::OsRng;
use kakusan_protocol::{Body, MemberForget, MemberForgotten, Nonce, Snowflake, Ttl};
use kakusan_storage::forget::{self, CopyToDelete, Scope};
use kakusan_storage::peers::{self, Peer};
use kakusan_storage::{PgConnection, times};
use twilight_model::channel::message::component::ButtonStyle;

use crate::answers::{Answer, Answers, Awaited};
use crate::component::{self, ComponentAction};
use crate::context::{Context, Local};
use crate::error::{HandlerError, Outcome};
use crate::federation::Outbound;
use crate::i18n::Lang;
use crate::interaction::{Ctx, Reply};

/// How long the report waits for the peers' answers before it names those still missing.
const ANSWER_WAIT: Duration = Duration::from_secs(20);

/// How long the member's times webhook is kept for the peers to delete their copies through
/// it, at most: the last peer's answer has it deleted at once, and a peer that does not
/// answer within this time finds it gone.
const WEBHOOK_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// `/forget-me` and both sides of its envelopes.
pub(crate) struct Forgets {
    ctx: Arc<Context>,
    outbound: Outbound,
    answers: Arc<Answers>,
}

impl Forgets {
    pub(crate) fn new(ctx: Arc<Context>, outbound: Outbound, answers: Arc<Answers>) -> Self {
        Self {
            ctx,
            outbound,
            answers,
        }
    }

    /// `/forget-me`: what it will do, and the button that does it. Nothing changes yet.
    pub(crate) async fn forget_me(&self, ctx: &Ctx) -> Outcome<Reply> {
        self.ctx.local(ctx.guild(), ctx.lang).await?;
        let button = component::button(
            ComponentAction::ForgetMe {
                member_id: ctx.user(),
            },
            &crate::tr!(ctx.lang, "forget-button"),
            ButtonStyle::Danger,
        );
        Ok(Reply {
            text: crate::tr!(ctx.lang, "forget-confirm"),
            components: component::rows(vec![button]),
            replaces_message: false,
        })
    }

    /// The confirmation button: forgets the member here, asks every mutual peer, and reports
    /// what was done and which peers have answered.
    pub(crate) async fn confirm(&self, ctx: &Ctx, member_id: u64) -> Outcome<Reply> {
        if member_id != ctx.user() {
            return Err(HandlerError::refused(crate::tr!(
                ctx.lang,
                "forget-not-yours"
            )));
        }
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let request = Nonce::generate(&mut OsRng);
        // Waiting before anything is sent, so no answer can come first.
        let mut answers = self.answers.expect(Awaited::Forgotten {
            request: request.to_string(),
        });
        let (copies, asked) = self.forget_here(&local, ctx.user(), request).await?;
        metrics::counter!("kakusan_forget_me_total").increment(1);
        tracing::info!(copies, peers = asked.len(), "a member left with /forget-me");
        let mut confirmed = BTreeMap::new();
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        while confirmed.len() < asked.len() {
            match answers.next_before(deadline).await {
                Some(Answer::Forgotten { peer, copies }) => {
                    confirmed.insert(peer, copies);
                }
                Some(_) => {}
                None => break,
            }
        }
        Ok(Reply {
            text: report(ctx.lang, copies, &asked, &confirmed),
            components: Vec::new(),
            replaces_message: false,
        })
    }

    /// Forgets the member at our server and asks every mutual peer to do its part, in one
    /// transaction. Returns how many copies are being deleted here and which peers were asked.
    async fn forget_here(
        &self,
        local: &Local,
        member_id: u64,
        request: Nonce,
    ) -> Outcome<(usize, Vec<String>)> {
        let member = Snowflake::new(member_id).context("the member's id")?;
        let mut transaction = self.ctx.pool.begin().await?;
        let forgotten =
            forget::forget_member(&mut transaction, Scope::Server(local.guild_id()), member_id)
                .await?;
        queue_deletions(&mut transaction, &forgotten.copies, member_id).await?;
        let request_id = request.to_string();
        let mut asked = Vec::new();
        for peer in peers::list_peers(&mut *transaction, local.guild_id()).await? {
            if !peer.mutual {
                continue;
            }
            let body = Body::MemberForget(MemberForget { member, request });
            self.outbound
                .send_envelope(&mut transaction, local, &peer, body, None)
                .await?;
            // Recorded even for a peer that is unreachable now: /sharelist names it, and the
            // member can run /forget-me again once it is back.
            let record = forget::Request {
                server_guild_id: local.guild_id(),
                peer_id: peer.id,
                member_id,
                request: &request_id,
                webhook_id: forgotten.webhook_id,
            };
            forget::record_request(&mut *transaction, &record).await?;
            asked.push(peer.name.to_string());
        }
        if let Some(times) = &forgotten.times {
            // The webhook goes (the member's posts in the channel stay), but not before the
            // peers have deleted their copies through it: the last answer brings it forward.
            let at = (!asked.is_empty()).then(|| chrono::Utc::now() + WEBHOOK_GRACE);
            enqueue_webhook_deletion_at(&mut transaction, local.guild_id(), times.webhook_id, at)
                .await?;
        }
        forget::drop_finished(&mut *transaction, local.guild_id()).await?;
        transaction.commit().await?;
        Ok((forgotten.copies.len(), asked))
    }

    /// A mutual peer's `member.forget`: forget what concerns that peer (the destinations it
    /// announced for the member, the copies we relayed into them), answer, and tell the member
    /// in their times here, if they have one, that it stays until they leave here too.
    pub(crate) async fn requested(
        &self,
        local: &Local,
        peer: &Peer,
        request: &MemberForget,
        reply_ttl: Option<Ttl>,
    ) -> Outcome<()> {
        let member_id = request.member.get();
        let mut transaction = self.ctx.pool.begin().await?;
        let forgotten =
            forget::forget_member(&mut transaction, Scope::Peer(peer.id), member_id).await?;
        queue_deletions(&mut transaction, &forgotten.copies, member_id).await?;
        if let Some(ttl) = reply_ttl {
            let copies = u32::try_from(forgotten.copies.len()).unwrap_or(u32::MAX);
            let answer = Body::MemberForgotten(request.answer(copies));
            // The peer deletes the member's times webhook once every peer has answered, and
            // the deletions go through that webhook: the answer waits behind them in their
            // lane (one peer announced one times per member, so there is one lane).
            match forgotten.copies.first() {
                Some(copy) => {
                    self.outbound
                        .send_envelope_after(
                            &mut transaction,
                            local,
                            peer,
                            answer,
                            Some(ttl),
                            copy.webhook_id,
                        )
                        .await?
                }
                None => {
                    self.outbound
                        .send_envelope(&mut transaction, local, peer, answer, Some(ttl))
                        .await?
                }
            }
        }
        forget::drop_finished(&mut *transaction, local.guild_id()).await?;
        transaction.commit().await?;
        // A peer that announced no times for the member (a member of another server, or one
        // already forgotten) finds nothing here to forget, and the member hears nothing of it.
        let outcome = if forgotten.destinations == 0 {
            "nothing_held"
        } else {
            "forgotten"
        };
        metrics::counter!("kakusan_forget_requests_total", "outcome" => outcome).increment(1);
        tracing::info!(
            peer = %peer.name,
            copies = forgotten.copies.len(),
            outcome,
            "a peer asked to forget one of its members"
        );
        if forgotten.destinations > 0 {
            self.tell_member(local, peer, member_id).await;
        }
        Ok(())
    }

    /// A peer's `member.forgotten`: the request it answers is done; the member's report hears
    /// of it if it is still waiting, in whichever process it runs. An answer to nothing we asked
    /// changes nothing.
    pub(crate) async fn answered(&self, peer: &Peer, answer: &MemberForgotten) -> Outcome<()> {
        let request = answer.request.to_string();
        let mut connection = self.ctx.pool.acquire().await?;
        if !forget::confirm_request(&mut connection, peer.id, answer.member.get(), &request).await?
        {
            tracing::info!(peer = %peer.name, "an answer to no pending /forget-me request; ignored");
            return Ok(());
        }
        tracing::info!(peer = %peer.name, copies = answer.copies, "a peer confirmed a /forget-me");
        let answered = Answer::Forgotten {
            peer: peer.name.to_string(),
            copies: answer.copies,
        };
        self.answers
            .announce(Awaited::Forgotten { request }, answered)
            .await
    }

    /// Tells the member, in their times channel here, that they left `peer` and that their
    /// times here stays until they run `/forget-me` here too. Only logged when it fails.
    async fn tell_member(&self, local: &Local, peer: &Peer, member_id: u64) {
        let Ok(Some(times)) = times::times_of_member(&self.ctx.pool, local.guild_id(), member_id)
            .await
            .inspect_err(|error| tracing::warn!(%error, "could not look up a member's times"))
        else {
            return;
        };
        let lang = local.lang();
        let text = crate::tr!(
            lang,
            "forget-peer-notice",
            member = format!("<@{member_id}>"),
            server = peer.name.to_string()
        );
        self.ctx
            .post_line(times.channel_id, &text, "a member's notice in their times")
            .await;
    }
}

/// Queues the deletion of each copy through its destination's webhook (a send of it still
/// queued is simply dropped), in the caller's transaction.
async fn queue_deletions(
    connection: &mut PgConnection,
    copies: &[CopyToDelete],
    member_id: u64,
) -> Outcome<()> {
    for copy in copies {
        let job = RelayJob {
            server_guild_id: copy.server_guild_id,
            destination_id: copy.destination_id,
            webhook_id: copy.webhook_id,
            member_id,
            source_message_id: copy.source_message_id,
            relay_id: None,
        };
        enqueue_delete(connection, &job).await?;
    }
    Ok(())
}

/// The member's report: the copies deleted here, each peer's answer or its absence, and that
/// their own posts stay.
fn report(
    lang: Lang,
    copies: usize,
    asked: &[String],
    confirmed: &BTreeMap<String, u32>,
) -> String {
    let mut lines = vec![crate::tr!(lang, "forget-done-here", copies = copies)];
    if asked.is_empty() {
        lines.push(crate::tr!(lang, "forget-no-peers"));
    }
    for peer in asked {
        lines.push(match confirmed.get(peer) {
            Some(copies) => crate::tr!(
                lang,
                "forget-peer-confirmed",
                server = peer.clone(),
                copies = *copies
            ),
            None => crate::tr!(lang, "forget-peer-waiting", server = peer.clone()),
        });
    }
    lines.push(crate::tr!(lang, "forget-own-posts-stay"));
    lines.join("\n")
}

/// `/sharelist`'s line naming the peers that have not yet answered the member's `/forget-me`;
/// `None` when there are none.
pub(crate) async fn unconfirmed_line(context: &Context, ctx: &Ctx) -> Outcome<Option<String>> {
    let peers = forget::unconfirmed_peers(&context.pool, ctx.guild(), ctx.user()).await?;
    Ok((!peers.is_empty()).then(|| {
        crate::tr!(
            ctx.lang,
            "forget-sharelist-waiting",
            servers = peers.join(", ")
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_every_peer_with_its_answer_or_its_absence() {
        let asked = vec!["beta".to_owned(), "gamma".to_owned()];
        let confirmed = BTreeMap::from([("beta".to_owned(), 2)]);
        let text = report(Lang::En, 3, &asked, &confirmed);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].contains('3'), "{text}");
        assert!(
            lines[1].contains("beta") && lines[1].contains('2'),
            "{text}"
        );
        assert!(lines[2].contains("gamma"), "{text}");
        let japanese = report(Lang::Ja, 0, &[], &BTreeMap::new());
        assert_ne!(japanese, report(Lang::En, 0, &[], &BTreeMap::new()));
        assert_eq!(japanese.lines().count(), 3, "{japanese}");
    }
}
