//! `/block` and `/unblock`: an admin's say over which remote members' relays are shown here.
//!
//! A peer delivers a member's relay itself, straight through the webhook of that member's
//! times here (we announced it to the peer), so no job of ours stands between the peer and the
//! post. What this side does see is the webhook message arriving in the times channel. A
//! relay from a blocked member is removed on arrival through that same webhook, by an outbox
//! job (durable, retried, no permission needed beyond the webhook we hold), and the sender
//! cannot tell the removal from a delivery: nothing is withdrawn from it, nothing is answered.
//!
//! Where a relay came from is read from its username, which ends with the origin server's
//! name in parentheses ([`webhook_username`](kakusan_delivery::webhook_username)); our own
//! copies (a `/here` typed here) name this server and are never removed. A peer that lies
//! about its name can dodge a block made for one peer only, not one for every peer (unless it
//! names this server, as an impostor would); the remedy for a lying peer is `/unregserver`,
//! which replaces every webhook it was given.

use std::sync::Arc;

use kakusan_delivery::{enqueue_removal, username_names_server};
use kakusan_storage::blocks::{self, Block};
use kakusan_storage::peers::{self, Peer};
use kakusan_storage::times::{self, Times};
use kakusan_storage::{ServerName, servers};
use twilight_model::channel::Message;
use twilight_model::id::Id;

use crate::context::Context;
use crate::error::{HandlerError, Outcome};
use crate::interaction::{Ctx, Reply};
use crate::model::{BlockCommand, UnblockCommand};

/// The counter of relays stopped because their member is blocked, by when it happened
/// (`arrival`, `purge`, or `dropped` before a job was queued).
const BLOCKED_RELAYS: &str = "kakusan_blocked_relays_total";

/// `/block`, `/unblock` and the removal of blocked relays on arrival. They hold no state of
/// their own: blocks are rows.
pub(crate) struct Blocks {
    ctx: Arc<Context>,
}

impl Blocks {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// `/block`: without a member, the list; with one, the block (and with `purge:true` the
    /// removal of their copies already here).
    pub(crate) async fn block(&self, ctx: &Ctx, command: BlockCommand) -> Outcome<Reply> {
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let Some(member) = command.member else {
            if command.server.is_some() || command.purge.is_some() {
                return Err(HandlerError::refused(crate::tr!(
                    ctx.lang,
                    "block-needs-member"
                )));
            }
            return self.list(ctx).await;
        };
        let peer = self.peer(ctx, command.server.as_deref()).await?;
        let member = member.get();
        let added = blocks::block(
            &self.ctx.pool,
            ctx.guild(),
            member,
            peer.as_ref().map(|p| p.id),
            ctx.user(),
        )
        .await?;
        let who = format!("<@{member}>");
        let mut text = match (&peer, added) {
            (None, true) => crate::tr!(ctx.lang, "block-done-everywhere", member = who),
            (Some(peer), true) => crate::tr!(
                ctx.lang,
                "block-done-via",
                member = who,
                server = peer.name.as_str()
            ),
            (_, false) => crate::tr!(ctx.lang, "block-exists", member = who),
        };
        tracing::info!(member, peer = ?peer.as_ref().map(|p| p.id), added, "blocked a member's relays");
        if command.purge == Some(true) {
            let removed = self.purge(&local.name, ctx.guild(), member).await?;
            text += "\n";
            text += &crate::tr!(ctx.lang, "block-purged", count = removed);
        }
        Ok(Reply::text(text))
    }

    /// `/unblock`: lifts the block of the member through that peer (or through every peer).
    pub(crate) async fn unblock(&self, ctx: &Ctx, command: UnblockCommand) -> Outcome<Reply> {
        self.ctx.local(ctx.guild(), ctx.lang).await?;
        let peer = self.peer(ctx, command.server.as_deref()).await?;
        let member = command.member.get();
        let removed = blocks::unblock(
            &self.ctx.pool,
            ctx.guild(),
            member,
            peer.as_ref().map(|p| p.id),
        )
        .await?;
        tracing::info!(member, removed, "lifted a block");
        let who = format!("<@{member}>");
        Ok(Reply::text(if removed {
            crate::tr!(ctx.lang, "unblock-done", member = who)
        } else {
            crate::tr!(ctx.lang, "unblock-none", member = who)
        }))
    }

    /// The blocks of this server, one line each.
    async fn list(&self, ctx: &Ctx) -> Outcome<Reply> {
        let all = blocks::blocks(&self.ctx.pool, ctx.guild()).await?;
        if all.is_empty() {
            return Ok(Reply::text(crate::tr!(ctx.lang, "block-list-empty")));
        }
        let mut lines = vec![crate::tr!(ctx.lang, "block-list-title", count = all.len())];
        for block in &all {
            let who = format!("<@{}>", block.member_id);
            let since = block.created_at.timestamp();
            lines.push(match &block.peer_name {
                None => crate::tr!(
                    ctx.lang,
                    "block-list-everywhere",
                    member = who,
                    since = since
                ),
                Some(server) => crate::tr!(
                    ctx.lang,
                    "block-list-via",
                    member = who,
                    server = server.as_str(),
                    since = since
                ),
            });
        }
        Ok(Reply::text(lines.join("\n")))
    }

    /// The peer an admin named, or `None` for every peer; an unknown name is refused.
    async fn peer(&self, ctx: &Ctx, name: Option<&str>) -> Outcome<Option<Peer>> {
        let Some(name) = name.map(str::trim).filter(|name| !name.is_empty()) else {
            return Ok(None);
        };
        match peers::peer_by_name(&self.ctx.pool, ctx.guild(), &name.to_lowercase()).await? {
            Some(peer) => Ok(Some(peer)),
            None => Err(HandlerError::refused(crate::tr!(
                ctx.lang,
                "block-unknown-server",
                server = name
            ))),
        }
    }

    /// Queues the removal of the blocked member's relays already in their times here: the
    /// messages posted through its webhook since it was made (nothing older can be its), read
    /// back as far as a catch-up reads. Copies posted through a webhook that was replaced
    /// since are out of reach. Returns how many are removed.
    async fn purge(&self, local: &ServerName, guild: u64, member: u64) -> Outcome<usize> {
        let Some(times) = times::times_of_member(&self.ctx.pool, guild, member).await? else {
            return Ok(0);
        };
        let verdict = Verdict::load(&self.ctx, local, &times).await?;
        let channel = Id::new_checked(times.channel_id)
            .ok_or_else(|| anyhow::anyhow!("a stored channel id of 0"))?;
        let history = self.ctx.history_after(channel, times.webhook_id).await?;
        let doomed: Vec<u64> = history
            .iter()
            .filter(|message| {
                message.webhook_id.map(Id::get) == Some(times.webhook_id)
                    && verdict.blocks(&message.author.name)
            })
            .map(|message| message.id.get())
            .collect();
        let mut transaction = self.ctx.pool.begin().await?;
        for message in &doomed {
            enqueue_removal(
                &mut transaction,
                guild,
                times.id,
                times.webhook_id,
                *message,
            )
            .await?;
        }
        transaction.commit().await?;
        metrics::counter!(BLOCKED_RELAYS, "when" => "purge").increment(doomed.len() as u64);
        Ok(doomed.len())
    }

    /// A webhook message outside any bot-com channel: when it is a relay that a peer posted
    /// through a member's times webhook here and that member is blocked (from that peer), its
    /// removal is queued. Everything else is left alone.
    pub(crate) async fn arrived(&self, message: &Message, webhook: u64) -> Outcome<()> {
        let Some(times) = times::times_in_channel(&self.ctx.pool, message.channel_id.get()).await?
        else {
            return Ok(());
        };
        if times.webhook_id != webhook {
            return Ok(());
        }
        // Most members are blocked nowhere: one query, and nothing more to read.
        let blocks =
            blocks::blocks_of_member(&self.ctx.pool, times.server_guild_id, times.member_id)
                .await?;
        if blocks.is_empty() {
            return Ok(());
        }
        let Some(server) = servers::server(&self.ctx.pool, times.server_guild_id).await? else {
            return Ok(());
        };
        let verdict = Verdict::of(&self.ctx, &server.name, times.server_guild_id, blocks).await?;
        if !verdict.blocks(&message.author.name) {
            return Ok(());
        }
        let mut connection = self.ctx.pool.acquire().await?;
        enqueue_removal(
            &mut connection,
            times.server_guild_id,
            times.id,
            times.webhook_id,
            message.id.get(),
        )
        .await?;
        metrics::counter!(BLOCKED_RELAYS, "when" => "arrival").increment(1);
        tracing::info!(
            guild = times.server_guild_id,
            member = times.member_id,
            message = message.id.get(),
            "removing a relay from a blocked member"
        );
        Ok(())
    }
}

/// The destinations of `member`'s relay from our server `guild` that get no job: times in
/// another server of this deployment that blocks the member's relays from us. There this side
/// queues the copy itself, so the relay is dropped before any job is queued (and counted);
/// elsewhere the receiving side removes it on arrival.
pub(crate) async fn dropped_for_blocks(
    ctx: &Context,
    guild: u64,
    member: u64,
) -> Outcome<Vec<i64>> {
    let dropped = blocks::blocked_destinations(&ctx.pool, guild, member).await?;
    if !dropped.is_empty() {
        metrics::counter!(BLOCKED_RELAYS, "when" => "dropped").increment(dropped.len() as u64);
        tracing::info!(
            guild,
            member,
            dropped = dropped.len(),
            "dropped copies for servers of ours that block the member"
        );
    }
    Ok(dropped)
}

/// What decides whether a message in a member's times, posted through its webhook, is a relay
/// this server blocks.
struct Verdict<'a> {
    local: &'a ServerName,
    /// The peers of our server, by row id and name.
    peers: Vec<(i64, ServerName)>,
    blocks: Vec<Block>,
}

impl<'a> Verdict<'a> {
    async fn load(ctx: &Context, local: &'a ServerName, times: &Times) -> Outcome<Verdict<'a>> {
        let blocks =
            blocks::blocks_of_member(&ctx.pool, times.server_guild_id, times.member_id).await?;
        Self::of(ctx, local, times.server_guild_id, blocks).await
    }

    /// The verdict of `blocks`, the member's blocks at our server in `guild`.
    async fn of(
        ctx: &Context,
        local: &'a ServerName,
        guild: u64,
        blocks: Vec<Block>,
    ) -> Outcome<Verdict<'a>> {
        // Most members are blocked nowhere: no need to read the peers then.
        let peers = if blocks.is_empty() {
            Vec::new()
        } else {
            peers::list_peers(&ctx.pool, guild)
                .await?
                .into_iter()
                .map(|peer| (peer.id, peer.name))
                .collect()
        };
        Ok(Verdict {
            local,
            peers,
            blocks,
        })
    }

    /// Whether a message posted as `username` is a blocked relay: not one of ours, and from a
    /// peer (or from a server we cannot name) that a block covers.
    fn blocks(&self, username: &str) -> bool {
        if self.blocks.is_empty() || username_names_server(username, self.local.as_str()) {
            return false;
        }
        let origin = self
            .peers
            .iter()
            .find(|(_, name)| username_names_server(username, name.as_str()))
            .map(|(id, _)| *id);
        self.blocks.iter().any(|block| block.covers(origin))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use kakusan_delivery::webhook_username;

    use super::*;
    use crate::i18n::Lang;

    fn name(text: &str) -> ServerName {
        ServerName::parse(text).unwrap()
    }

    fn block(peer_id: Option<i64>) -> Block {
        Block {
            id: 1,
            server_guild_id: 100,
            member_id: 7,
            peer_id,
            peer_name: None,
            blocked_by: 1,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_relay_is_blocked_by_its_origin_and_our_own_copies_never_are() {
        let local = name("beta");
        let verdict = |blocks| Verdict {
            local: &local,
            peers: vec![(1, name("alpha")), (2, name("gamma"))],
            blocks,
        };
        let from = |server: &str| webhook_username("Hanako", server);

        let everywhere = verdict(vec![block(None)]);
        assert!(everywhere.blocks(&from("alpha")));
        assert!(everywhere.blocks(&from("unknown")), "a name we do not know");
        assert!(everywhere.blocks("no suffix at all"));
        assert!(!everywhere.blocks(&from("beta")), "our own /here");

        let via_alpha = verdict(vec![block(Some(1))]);
        assert!(via_alpha.blocks(&from("alpha")));
        assert!(!via_alpha.blocks(&from("gamma")));
        assert!(!via_alpha.blocks(&from("unknown")));

        assert!(
            !verdict(Vec::new()).blocks(&from("alpha")),
            "nobody blocked"
        );
    }

    #[test]
    fn the_replies_exist_in_japanese() {
        let text = crate::tr!(
            Lang::Ja,
            "block-done-via",
            member = "<@7>",
            server = "alpha"
        );
        assert_eq!(
            text,
            "ブロックしました。**alpha** 経由の <@7> さんの中継は、ここには表示されません。"
        );
        let text = crate::tr!(Lang::Ja, "block-purged", count = 3);
        assert_eq!(text, "これまでの中継 3 件を削除しています。");
        let text = crate::tr!(Lang::En, "block-purged", count = 1);
        assert_eq!(text, "1 earlier copy of theirs is being removed.");
    }
}
