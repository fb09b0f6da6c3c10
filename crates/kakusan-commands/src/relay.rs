//! Relaying a member's posts: `/here`, `/queue` with its Cancel buttons, and mirror mode
//! (plain messages in a mirrored times channel, their edits and their deletes).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use kakusan_delivery::{
    AttachmentLink, EditPayload, Origin, OriginJob, RelayJob, SendPayload, enqueue_delete,
    enqueue_edit, enqueue_origin, enqueue_send, webhook_username,
};
use kakusan_storage::destinations::{self, Destination};
use kakusan_storage::outbox;
use kakusan_storage::servers;
use kakusan_storage::times::{self, Times};
use twilight_model::channel::Message;
use twilight_model::channel::message::MessageType;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};
use uuid::Uuid;

use crate::app::{App, is_unavailable, through_outage};
use crate::component;
use crate::interaction::{
    Ctx, DELIVERY_REPORT_WAIT, Refused, Reply, avatar_url, clip, display_name,
};
use crate::model::HereCommand;
use crate::schedule::parse_schedule;

/// How long a mirrored edit waits, so a burst of edits becomes one call per copy.
const EDIT_DELAY: Duration = Duration::from_secs(1);

/// A `/here` whose copies are queued.
pub(crate) struct StoredHere {
    relay_id: Uuid,
    working: Vec<Destination>,
    broken: Vec<Destination>,
    at: Option<DateTime<Utc>>,
}

/// A `/here` that passed the checks on what the member typed.
pub(crate) struct CheckedHere {
    text: String,
    attachment: Option<AttachmentLink>,
    at: Option<DateTime<Utc>>,
}

impl App {
    /// Refuses what cannot be relayed, with the sentence to show, before anything happens.
    pub(crate) fn check_here(&self, here: &HereCommand) -> Result<CheckedHere, String> {
        let length = here.message.chars().count();
        if length > 2000 {
            return Err(format!(
                "A message can hold at most 2,000 characters; yours has {length}. Shorten it and try again."
            ));
        }
        if here.message.trim().is_empty() && here.attachment.is_none() {
            return Err("There is nothing to relay: the message is empty.".to_owned());
        }
        let at = match here.at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                Some(parse_schedule(text, Utc::now()).map_err(|error| error.to_string())?)
            }
        };
        Ok(CheckedHere {
            text: here.message.clone(),
            attachment: here.attachment.as_ref().map(|file| AttachmentLink {
                filename: file.filename.clone(),
                url: file.url.clone(),
                size: file.size,
            }),
            at,
        })
    }

    /// `/here`, the part that must happen before the member is answered: the relay's copies
    /// (the one in this channel included) are queued in one transaction, in the order the
    /// gateway delivered the member's interactions. Nothing is sent before it commits.
    pub(crate) async fn store_here(
        &self,
        ctx: &Ctx,
        here: &CheckedHere,
    ) -> anyhow::Result<StoredHere> {
        let local = self.local(ctx).await?;
        let all = destinations::destinations_of_member(&self.pool, ctx.guild(), ctx.user()).await?;
        let (working, broken): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|d| d.broken_reason.is_none());
        if working.is_empty() {
            return Err(Refused::new(if broken.is_empty() {
                "You have no times channel in any peered server yet, so there is nowhere to relay to. Run /regtimes in your times channels (here and in the peered servers).".to_owned()
            } else {
                format!(
                    "Every one of your destinations is broken, so nothing was relayed: {}. See /sharelist.",
                    names(&broken)
                )
            })
            .into());
        }
        let username = webhook_username(&ctx.display_name, local.name.as_str());
        let payload = SendPayload {
            content: here.text.clone(),
            username,
            avatar_url: ctx.avatar_url.clone(),
            attachments: here.attachment.clone().into_iter().collect(),
        };
        // In the member's times here it shows through its webhook, like the copies; anywhere
        // else the bot posts it, saying whose it is.
        let times = times::times_of_member(&self.pool, ctx.guild(), ctx.user()).await?;
        let (origin, shown) = match times.filter(|t| t.channel_id == ctx.channel_id.get()) {
            Some(times) => (
                Origin::Times {
                    times_id: times.id,
                    webhook_id: times.webhook_id,
                },
                payload.clone(),
            ),
            None => (
                Origin::Channel(ctx.channel_id.get()),
                SendPayload {
                    content: clip(&format!("**{}** (/here):\n{}", ctx.display_name, here.text)),
                    ..payload.clone()
                },
            ),
        };
        // A /here has no message of its own until its copy here exists: the interaction's id
        // stands for it in the relay's jobs.
        let source = ctx.id.get();
        let relay_id = Uuid::new_v4();
        let mut transaction = self.pool.begin().await?;
        let origin = OriginJob {
            server_guild_id: ctx.guild(),
            member_id: ctx.user(),
            source_message_id: source,
            relay_id,
            origin,
        };
        enqueue_origin(&mut transaction, &origin, &shown, here.at).await?;
        for destination in &working {
            let job = RelayJob {
                server_guild_id: ctx.guild(),
                destination_id: destination.id,
                webhook_id: destination.webhook_id,
                member_id: ctx.user(),
                source_message_id: source,
                relay_id: Some(relay_id),
            };
            enqueue_send(&mut transaction, &job, &payload, here.at).await?;
        }
        transaction.commit().await?;
        Ok(StoredHere {
            relay_id,
            working,
            broken,
            at: here.at,
        })
    }

    /// `/here`, after the member was answered that it is being handled: what became of the
    /// stored relay, waiting a little for its copies.
    pub(crate) async fn report_here(&self, stored: &StoredHere) -> anyhow::Result<Reply> {
        let broken_line = if stored.broken.is_empty() {
            String::new()
        } else {
            format!(
                "\nSkipped, because they are broken: {} (see /sharelist).",
                names(&stored.broken)
            )
        };
        if let Some(at) = stored.at {
            return Ok(Reply::text(format!(
                "Scheduled for <t:{}:f> to {} destination(s): {}. /queue shows it and can cancel it.{broken_line}",
                at.timestamp(),
                stored.working.len(),
                names(&stored.working)
            )));
        }
        let report = match self.delivery_report(stored.relay_id, &stored.working).await {
            Ok(report) => report,
            // The relay is stored: it goes out when the database is back, whatever the
            // report could not read.
            Err(error) if is_unavailable(&error) => format!(
                "Queued for {} destination(s); it will be delivered. (Storage is unavailable right now, so there is no delivery report; /queue shows it later.)",
                stored.working.len()
            ),
            Err(error) => return Err(error),
        };
        Ok(Reply::text(report + &broken_line))
    }

    /// Waits (a little) for the relay's copies, then says which arrived and which failed.
    async fn delivery_report(
        &self,
        relay_id: Uuid,
        destinations: &[Destination],
    ) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + DELIVERY_REPORT_WAIT;
        let jobs = loop {
            let jobs = outbox::jobs_of_relay(&self.pool, relay_id).await?;
            let pending = jobs.iter().any(|job| job.failed_at.is_none());
            if !pending || tokio::time::Instant::now() >= deadline {
                break jobs;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let by_id: HashMap<i64, &Destination> = destinations.iter().map(|d| (d.id, d)).collect();
        let mut failed = Vec::new();
        let mut waiting = Vec::new();
        let mut not_shown = None;
        for job in &jobs {
            let Some(destination) = job.destination_id else {
                // The copy in the member's own channel: only its failure is worth a word.
                if job.failed_at.is_some() {
                    not_shown = Some(job.last_error.as_deref().unwrap_or("failed"));
                }
                continue;
            };
            let name = by_id
                .get(&destination)
                .map_or("?", |d| d.peer_name.as_str());
            match (&job.failed_at, &job.last_error) {
                (Some(_), error) => {
                    failed.push(format!("{name} ({})", error.as_deref().unwrap_or("failed")))
                }
                (None, _) => waiting.push(name.to_owned()),
            }
        }
        let delivered = destinations.len() - failed.len() - waiting.len();
        let mut report = format!(
            "Delivered to {delivered} of {} destination(s).",
            destinations.len()
        );
        if !failed.is_empty() {
            report += &format!(" Failed: {}.", failed.join(", "));
        }
        if !waiting.is_empty() {
            report += &format!(" Still on the way to: {} (see /queue).", waiting.join(", "));
        }
        if let Some(error) = not_shown {
            report += &format!(" It could not be shown in this channel: {error}.");
        }
        Ok(report)
    }

    pub(crate) async fn queue(&self, ctx: &Ctx, all: bool) -> anyhow::Result<Reply> {
        if all && !ctx.can_manage_guild() {
            return Ok(Reply::text(
                "You need the Manage Server permission to see everyone's queue (all:true); /queue alone shows yours.",
            ));
        }
        let member = (!all).then(|| ctx.user());
        let jobs = outbox::pending_jobs(&self.pool, ctx.guild(), member).await?;
        let mut relays: Vec<(Uuid, Vec<&outbox::Job>)> = Vec::new();
        for job in &jobs {
            let Some(relay) = job.relay_id else { continue };
            match relays.iter_mut().find(|(id, _)| *id == relay) {
                Some((_, list)) => list.push(job),
                None => relays.push((relay, vec![job])),
            }
        }
        if relays.is_empty() {
            return Ok(Reply::text(if all {
                "Nothing is waiting to be relayed from this server."
            } else {
                "Nothing of yours is waiting to be relayed."
            }));
        }
        let mut names: HashMap<i64, String> = HashMap::new();
        let mut lines = vec![format!("Pending relays ({}):", relays.len())];
        let now = Utc::now();
        for (index, (_, list)) in relays.iter().enumerate() {
            let mut targets = Vec::new();
            for job in list {
                if job.destination_id.is_none() && job.peer_id.is_none() {
                    // The copy in the channel where the /here was typed.
                    targets.push("its channel here".to_owned());
                }
                if let Some(id) = job.destination_id {
                    let name = match names.get(&id) {
                        Some(name) => name.clone(),
                        None => {
                            let name = destinations::destination(&self.pool, id)
                                .await?
                                .map_or_else(|| "?".to_owned(), |d| d.peer_name);
                            names.insert(id, name.clone());
                            name
                        }
                    };
                    targets.push(name);
                }
            }
            let first = list[0];
            let preview: String = first
                .payload
                .get("content")
                .and_then(|c| c.as_str())
                .unwrap_or("")
                .chars()
                .take(40)
                .collect();
            let state = if first.scheduled_for > now {
                format!("scheduled for <t:{}:f>", first.scheduled_for.timestamp())
            } else if let Some(error) = list.iter().find_map(|j| j.last_error.as_deref()) {
                format!("retrying; last error: {error}")
            } else {
                "on its way".to_owned()
            };
            let who = match (all, first.member_id) {
                (true, Some(member)) => format!(" by <@{member}>"),
                _ => String::new(),
            };
            lines.push(format!(
                "{}. “{preview}”{who} → {}: {state}",
                index + 1,
                targets.join(", ")
            ));
        }
        let buttons = relays
            .iter()
            .map(|(relay, _)| component::cancel_button(*relay))
            .collect();
        Ok(Reply {
            text: lines.join("\n"),
            components: component::rows(buttons),
            replaces_message: false,
        })
    }

    /// A Cancel button of `/queue`: the relay's member, or an admin, stops what has not started.
    pub(crate) async fn cancel_relay(&self, ctx: &Ctx, relay_id: Uuid) -> anyhow::Result<Reply> {
        let member = (!ctx.can_manage_guild()).then(|| ctx.user());
        let cancelled = outbox::cancel_relay(&self.pool, ctx.guild(), relay_id, member).await?;
        Ok(Reply::text(match (cancelled.removed, cancelled.running) {
            (0, 0) => {
                "Nothing left to cancel: that relay was delivered or cancelled already.".to_owned()
            }
            (removed, 0) => format!("Cancelled: {removed} cop(ies) will not be sent."),
            (removed, running) => format!(
                "Cancelled {removed} cop(ies); {running} were already being sent and will arrive."
            ),
        }))
    }

    /// The mirrored times of `channel` and its owner's working destinations, when `author`
    /// owns it; `None` for every other message.
    async fn mirrored(
        &self,
        channel: Id<ChannelMarker>,
        author: Option<u64>,
    ) -> anyhow::Result<Option<(Times, Vec<Destination>)>> {
        let Some(times) = times::times_in_channel(&self.pool, channel.get()).await? else {
            return Ok(None);
        };
        if !times.mirror || author.is_some_and(|author| author != times.member_id) {
            return Ok(None);
        }
        let destinations = destinations::destinations_of_member(
            &self.pool,
            times.server_guild_id,
            times.member_id,
        )
        .await?
        .into_iter()
        .filter(|d| d.broken_reason.is_none())
        .collect();
        Ok(Some((times, destinations)))
    }

    /// A plain message in a mirrored times channel.
    pub(crate) async fn mirror_send(&self, message: &Message) -> anyhow::Result<()> {
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
        let Some(server) = servers::server(&self.pool, times.server_guild_id).await? else {
            return Ok(());
        };
        let nick = message.member.as_ref().and_then(|m| m.nick.as_deref());
        let payload = SendPayload {
            content,
            username: webhook_username(&display_name(nick, &message.author), &server.name),
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
        let mut transaction = self.pool.begin().await?;
        for destination in &destinations {
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
    /// session's message events (see [`crate::App::handle`]). Edits and deletes made while
    /// away are not seen; a times registered before read marks existed starts at its next
    /// relayed message.
    pub(crate) async fn catch_up_mirrors(&self, guilds: &[u64]) {
        let mirrored = match times::mirrored_times(&self.pool, guilds).await {
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

    async fn catch_up_mirror(&self, times: &Times, after: u64) -> anyhow::Result<usize> {
        let channel = Id::new_checked(times.channel_id).context("a stored channel id")?;
        let mut relayed = 0;
        for message in &self.history_after(channel, after).await? {
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
    pub(crate) async fn mirror_edit(&self, message: &Message) -> anyhow::Result<()> {
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
        let mut transaction = self.pool.begin().await?;
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
    ) -> anyhow::Result<()> {
        let Some((times, destinations)) = self.mirrored(channel, None).await? else {
            return Ok(());
        };
        let mut transaction = self.pool.begin().await?;
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

fn names(destinations: &[Destination]) -> String {
    destinations
        .iter()
        .map(|d| d.peer_name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
