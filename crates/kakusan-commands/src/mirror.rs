//! Mirror mode: a member's plain messages in their mirrored times channel, with their edits
//! and deletes, become relay jobs; what was posted while kakusan was away is read back.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kakusan_delivery::{
    AttachmentLink, EditPayload, RelayJob, SendPayload, enqueue_delete, enqueue_edit, enqueue_send,
    webhook_username,
};
use kakusan_storage::destinations::{self, Destination};
use kakusan_storage::servers;
use kakusan_storage::times::{self, Times};
use twilight_model::channel::Message;
use twilight_model::channel::message::MessageType;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};
use uuid::Uuid;

use crate::block::dropped_for_blocks;
use crate::context::Context;
use crate::error::{Outcome, through_outage};
use crate::interaction::{avatar_url, clip, display_name};

/// How long a mirrored edit waits, so a burst of edits becomes one call per copy.
const EDIT_DELAY: Duration = Duration::from_secs(1);

/// Mirror mode. It holds no state of its own: the read marks are in the database.
pub(crate) struct Mirror {
    ctx: Arc<Context>,
}

impl Mirror {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// The mirrored times of `channel` and its owner's working destinations, when `author`
    /// owns it; `None` for every other message.
    async fn mirrored(
        &self,
        channel: Id<ChannelMarker>,
        author: Option<u64>,
    ) -> Outcome<Option<(Times, Vec<Destination>)>> {
        let Some(times) = times::times_in_channel(&self.ctx.pool, channel.get()).await? else {
            return Ok(None);
        };
        if !times.mirror || author.is_some_and(|author| author != times.member_id) {
            return Ok(None);
        }
        let destinations = destinations::destinations_of_member(
            &self.ctx.pool,
            times.server_guild_id,
            times.member_id,
        )
        .await?
        .into_iter()
        .filter(|d| d.broken_reason.is_none() && d.stopped_at.is_none())
        .collect();
        Ok(Some((times, destinations)))
    }

    /// A plain message in a mirrored times channel.
    pub(crate) async fn mirror_send(&self, message: &Message) -> Outcome<()> {
        if !matches!(message.kind, MessageType::Regular | MessageType::Reply) {
            return Ok(());
        }
        let Some((times, destinations)) = self
            .mirrored(message.channel_id, Some(message.author.id.get()))
            .await?
        else {
            return Ok(());
        };
        if times
            .read_until
            .is_some_and(|read| message.id.get() <= read)
        {
            // Already relayed by the catch-up at the start of this session.
            return Ok(());
        }
        let content = mirror_content(message);
        if content.is_empty() && message.attachments.is_empty() {
            // Without the Message Content intent the text arrives empty; nothing to relay.
            tracing::debug!("a mirrored message arrived without content");
            return Ok(());
        }
        let Some(server) = servers::server(&self.ctx.pool, times.server_guild_id).await? else {
            return Ok(());
        };
        let nick = message.member.as_ref().and_then(|m| m.nick.as_deref());
        let payload = SendPayload {
            content,
            username: webhook_username(&display_name(nick, &message.author), server.name.as_str()),
            avatar_url: avatar_url(&message.author),
            attachments: message
                .attachments
                .iter()
                .map(|file| AttachmentLink {
                    filename: file.filename.clone(),
                    url: file.url.clone(),
                    size: file.size,
                })
                .collect(),
        };
        let relay_id = Uuid::new_v4();
        let blocked = dropped_for_blocks(&self.ctx, times.server_guild_id, times.member_id).await?;
        let mut transaction = self.ctx.pool.begin().await?;
        for destination in destinations.iter().filter(|d| !blocked.contains(&d.id)) {
            let job = mirror_job(&times, destination, message.id, Some(relay_id));
            enqueue_send(&mut transaction, &job, &payload, None).await?;
        }
        // In the same transaction: a message is either relayed and marked read, or neither.
        times::advance_read_cursor(&mut *transaction, times.id, message.id.get()).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Relays the plain messages posted in mirrored times channels of `guilds` while no session
    /// was connected, from each channel's read mark on. Runs at READY, before the new
    /// session's message events (see `App::handle`). Edits and deletes made while
    /// away are not seen; a times registered before read marks existed starts at its next
    /// relayed message.
    pub(crate) async fn catch_up(&self, guilds: &[u64]) {
        let mirrored = match times::mirrored_times(&self.ctx.pool, guilds).await {
            Ok(mirrored) => mirrored,
            Err(error) => {
                tracing::warn!(%error, "could not look for mirrored posts made while away");
                return;
            }
        };
        for times in mirrored {
            let Some(after) = times.read_until else {
                continue;
            };
            match self.catch_up_mirror(&times, after).await {
                Ok(0) => {}
                Ok(relayed) => {
                    tracing::info!(
                        channel = times.channel_id,
                        relayed,
                        "relayed posts made while away"
                    );
                }
                Err(error) => tracing::warn!(
                    channel = times.channel_id,
                    "could not read the posts made while away: {error:#}"
                ),
            }
        }
    }

    async fn catch_up_mirror(&self, times: &Times, after: u64) -> Outcome<usize> {
        let channel = Id::new_checked(times.channel_id).context("a stored channel id")?;
        let mut relayed = 0;
        for message in &self.ctx.history_after(channel, after).await? {
            if message.webhook_id.is_none()
                && !message.author.bot
                && message.author.id.get() == times.member_id
            {
                through_outage(|| self.mirror_send(message)).await?;
                relayed += 1;
            }
        }
        Ok(relayed)
    }

    /// An edit in a mirrored times channel reaches every copy (or the send still queued).
    pub(crate) async fn mirror_edit(&self, message: &Message) -> Outcome<()> {
        if message.webhook_id.is_some() || message.author.bot {
            return Ok(());
        }
        let Some((times, destinations)) = self
            .mirrored(message.channel_id, Some(message.author.id.get()))
            .await?
        else {
            return Ok(());
        };
        let content = mirror_content(message);
        if content.is_empty() {
            return Ok(());
        }
        let payload = EditPayload { content };
        let mut transaction = self.ctx.pool.begin().await?;
        for destination in &destinations {
            let job = mirror_job(&times, destination, message.id, None);
            enqueue_edit(&mut transaction, &job, &payload, EDIT_DELAY).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// A delete in a mirrored times channel removes every copy (or cancels the queued send).
    /// The event does not say who wrote the message; a message with no copy and no queued
    /// send makes no call.
    pub(crate) async fn mirror_delete(
        &self,
        channel: Id<ChannelMarker>,
        message: Id<MessageMarker>,
    ) -> Outcome<()> {
        let Some((times, destinations)) = self.mirrored(channel, None).await? else {
            return Ok(());
        };
        let mut transaction = self.ctx.pool.begin().await?;
        for destination in &destinations {
            let job = mirror_job(&times, destination, message, None);
            enqueue_delete(&mut transaction, &job).await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}

fn mirror_job(
    times: &Times,
    destination: &Destination,
    message: Id<MessageMarker>,
    relay_id: Option<Uuid>,
) -> RelayJob {
    RelayJob {
        server_guild_id: times.server_guild_id,
        destination_id: destination.id,
        webhook_id: destination.webhook_id,
        member_id: times.member_id,
        source_message_id: message.get(),
        relay_id,
    }
}

/// The text of a mirrored message; a reply starts with a quote of what it answers and a jump
/// link to it.
fn mirror_content(message: &Message) -> String {
    let Some(replied) = message
        .referenced_message
        .as_deref()
        .filter(|_| message.kind == MessageType::Reply)
    else {
        return message.content.clone();
    };
    let quote: String = replied
        .content
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(100)
        .collect();
    let guild = message.guild_id.map_or("@me".to_owned(), |g| g.to_string());
    let link = format!(
        "https://discord.com/channels/{guild}/{}/{}",
        replied.channel_id, replied.id
    );
    clip(&format!("> {quote}\n> ↪ {link}\n{}", message.content))
}
