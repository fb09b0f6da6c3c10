//! Relaying a member's posts with `/here`, and `/queue` with its Cancel buttons.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kakusan_delivery::{
    AttachmentLink, Origin, OriginJob, RelayJob, SendPayload, enqueue_origin, enqueue_send,
    webhook_username,
};
use kakusan_storage::destinations::{self, Destination};
use kakusan_storage::outbox::Target;
use kakusan_storage::{outbox, pauses, times};
use uuid::Uuid;

use crate::block::dropped_for_blocks;
use crate::component;
use crate::context::Context;
use crate::error::{HandlerError, Outcome};
use crate::i18n::Lang;
use crate::interaction::{Ctx, Reply, clip};
use crate::model::HereCommand;
use crate::reasons::reason;
use crate::schedule::parse_schedule;

/// How long `/here` waits for its copies before it reports; the rest is in `/queue`.
const DELIVERY_REPORT_WAIT: Duration = Duration::from_secs(8);

/// A `/here` whose copies are queued.
pub(crate) struct StoredHere {
    relay_id: Uuid,
    /// The member's language, for the report.
    lang: Lang,
    working: Vec<Destination>,
    broken: Vec<Destination>,
    at: Option<DateTime<Utc>>,
    /// The member is paused here (`/pause`): the relay waits for `/resume`.
    paused: bool,
}

/// A `/here` that passed the checks on what the member typed.
pub(crate) struct CheckedHere {
    text: String,
    attachment: Option<AttachmentLink>,
    at: Option<DateTime<Utc>>,
}

/// `/here` and `/queue`. They hold no state of their own: a relay is its outbox jobs.
pub(crate) struct Relays {
    ctx: Arc<Context>,
}

impl Relays {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Refuses what cannot be relayed, with the sentence to show, before anything happens.
    pub(crate) fn check_here(&self, here: &HereCommand, lang: Lang) -> Outcome<CheckedHere> {
        let length = here.message.chars().count();
        if length > 2000 {
            return Err(HandlerError::refused(crate::tr!(
                lang,
                "here-too-long",
                length = length
            )));
        }
        if here.message.trim().is_empty() && here.attachment.is_none() {
            return Err(HandlerError::refused(crate::tr!(lang, "here-empty")));
        }
        let at = match here.at.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                parse_schedule(text, Utc::now())
                    .map_err(|error| HandlerError::refused(error.sentence(lang)))?,
            ),
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
    pub(crate) async fn store_here(&self, ctx: &Ctx, here: &CheckedHere) -> Outcome<StoredHere> {
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let all =
            destinations::destinations_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?;
        // Destinations the member stopped get nothing and are not counted.
        let (stopped, all): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|d| d.stopped_at.is_some());
        let (working, broken): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|d| d.broken_reason.is_none());
        if working.is_empty() && broken.is_empty() && !stopped.is_empty() {
            return Err(HandlerError::refused(crate::tr!(
                ctx.lang,
                "here-all-stopped",
                names = names(&stopped)
            )));
        }
        if working.is_empty() {
            return Err(HandlerError::refused(if broken.is_empty() {
                crate::tr!(ctx.lang, "here-nowhere")
            } else {
                crate::tr!(ctx.lang, "here-all-broken", names = names(&broken))
            }));
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
        let times = times::times_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?;
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
        // A server of this deployment that blocks the member gets no copy at all; the member
        // is told it was delivered, as a peer elsewhere would show it (see `block.rs`).
        let blocked = dropped_for_blocks(&self.ctx, ctx.guild(), ctx.user()).await?;
        let mut transaction = self.ctx.pool.begin().await?;
        let origin = OriginJob {
            server_guild_id: ctx.guild(),
            member_id: ctx.user(),
            source_message_id: source,
            relay_id,
            origin,
        };
        enqueue_origin(&mut transaction, &origin, &shown, here.at).await?;
        for destination in working.iter().filter(|d| !blocked.contains(&d.id)) {
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
        // Read in the transaction that queued the jobs, which the same pause holds back.
        let paused = pauses::paused_since(&mut *transaction, ctx.guild(), ctx.user())
            .await?
            .is_some();
        transaction.commit().await?;
        Ok(StoredHere {
            relay_id,
            lang: ctx.lang,
            working,
            broken,
            at: here.at,
            paused,
        })
    }

    /// `/here`, after the member was answered that it is being handled: what became of the
    /// stored relay, waiting a little for its copies.
    pub(crate) async fn report_here(&self, stored: &StoredHere) -> Outcome<Reply> {
        let lang = stored.lang;
        if stored.paused {
            return Ok(crate::pause::here_paused(lang, stored.working.len()));
        }
        let broken_line = if stored.broken.is_empty() {
            String::new()
        } else {
            let skipped = crate::tr!(lang, "here-skipped-broken", names = names(&stored.broken));
            format!("\n{skipped}")
        };
        if let Some(at) = stored.at {
            let scheduled = crate::tr!(
                lang,
                "here-scheduled",
                at = at.timestamp(),
                count = stored.working.len(),
                names = names(&stored.working)
            );
            return Ok(Reply::text(scheduled + &broken_line));
        }
        let report = match self
            .delivery_report(stored.relay_id, &stored.working, lang)
            .await
        {
            Ok(report) => report,
            // The relay is stored: it goes out when the database is back, whatever the
            // report could not read.
            Err(error) if error.is_unavailable() => {
                crate::tr!(lang, "here-queued-no-report", count = stored.working.len())
            }
            Err(error) => return Err(error),
        };
        Ok(Reply::text(report + &broken_line))
    }

    /// Waits (a little) for the relay's copies, then says which arrived and which failed.
    async fn delivery_report(
        &self,
        relay_id: Uuid,
        destinations: &[Destination],
        lang: Lang,
    ) -> Outcome<String> {
        let deadline = tokio::time::Instant::now() + DELIVERY_REPORT_WAIT;
        let jobs = loop {
            let jobs = outbox::jobs_of_relay(&self.ctx.pool, relay_id).await?;
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
                    not_shown = Some(reason(lang, job.last_error.as_deref()));
                }
                continue;
            };
            let name = by_id
                .get(&destination)
                .map_or("?", |d| d.peer_name.as_str());
            match (&job.failed_at, &job.last_error) {
                (Some(_), error) => {
                    failed.push(format!("{name} ({})", reason(lang, error.as_deref())))
                }
                (None, _) => waiting.push(name.to_owned()),
            }
        }
        let delivered = destinations.len() - failed.len() - waiting.len();
        let mut report = vec![crate::tr!(
            lang,
            "here-delivered",
            delivered = delivered,
            count = destinations.len()
        )];
        if !failed.is_empty() {
            report.push(crate::tr!(lang, "here-failed", list = failed.join(", ")));
        }
        if !waiting.is_empty() {
            report.push(crate::tr!(lang, "here-waiting", names = waiting.join(", ")));
        }
        if let Some(error) = not_shown {
            report.push(crate::tr!(lang, "here-not-shown", error = error));
        }
        Ok(lang.join(&report))
    }

    pub(crate) async fn queue(&self, ctx: &Ctx, all: bool) -> Outcome<Reply> {
        if all && !ctx.can_manage_guild() {
            return Ok(Reply::text(crate::tr!(ctx.lang, "queue-all-not-admin")));
        }
        let member = (!all).then(|| ctx.user());
        let jobs = outbox::pending_jobs(&self.ctx.pool, ctx.guild(), member).await?;
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
                crate::tr!(ctx.lang, "queue-empty-all")
            } else {
                crate::tr!(ctx.lang, "queue-empty-mine")
            }));
        }
        let mut names: HashMap<i64, String> = HashMap::new();
        let mut lines = vec![crate::tr!(ctx.lang, "queue-header", count = relays.len())];
        let now = Utc::now();
        for (index, (_, list)) in relays.iter().enumerate() {
            let mut targets = Vec::new();
            for job in list {
                match job.target() {
                    Target::Destination(id) => {
                        let name = match names.get(&id) {
                            Some(name) => name.clone(),
                            None => {
                                let name = destinations::destination(&self.ctx.pool, id)
                                    .await?
                                    .map_or_else(|| "?".to_owned(), |d| d.peer_name);
                                names.insert(id, name.clone());
                                name
                            }
                        };
                        targets.push(name);
                    }
                    // The copy in the channel where the /here was typed.
                    Target::Times(_) | Target::Channel(_) => {
                        targets.push(crate::tr!(ctx.lang, "queue-origin"));
                    }
                    Target::Peer(_) | Target::Webhook(_) => {}
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
            let state = if list.iter().any(|job| job.paused) {
                crate::pause::queue_state(ctx.lang)
            } else if first.scheduled_for > now {
                crate::tr!(
                    ctx.lang,
                    "queue-scheduled",
                    at = first.scheduled_for.timestamp()
                )
            } else if let Some(error) = list.iter().find_map(|j| j.last_error.as_deref()) {
                crate::tr!(
                    ctx.lang,
                    "queue-retrying",
                    error = reason(ctx.lang, Some(error))
                )
            } else {
                crate::tr!(ctx.lang, "queue-on-its-way")
            };
            let who = match (all, first.member_id) {
                (true, Some(member)) => {
                    format!(" {}", crate::tr!(ctx.lang, "queue-by", member = member))
                }
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
            .map(|(relay, _)| component::cancel_button(*relay, ctx.lang))
            .collect();
        Ok(Reply {
            text: lines.join("\n"),
            components: component::rows(buttons),
            replaces_message: false,
        })
    }

    /// A Cancel button of `/queue`: the relay's member, or an admin, stops what has not started.
    pub(crate) async fn cancel_relay(&self, ctx: &Ctx, relay_id: Uuid) -> Outcome<Reply> {
        let member = (!ctx.can_manage_guild()).then(|| ctx.user());
        let cancelled = outbox::cancel_relay(&self.ctx.pool, ctx.guild(), relay_id, member).await?;
        Ok(Reply::text(match (cancelled.removed, cancelled.running) {
            (0, 0) => crate::tr!(ctx.lang, "cancel-nothing"),
            (removed, 0) => crate::tr!(ctx.lang, "cancel-done", count = removed),
            (removed, running) => crate::tr!(
                ctx.lang,
                "cancel-partly",
                removed = removed,
                running = running
            ),
        }))
    }
}

fn names(destinations: &[Destination]) -> String {
    destinations
        .iter()
        .map(|d| d.peer_name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
