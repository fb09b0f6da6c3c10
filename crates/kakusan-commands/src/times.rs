//! The members' times commands: `/regtimes`, `/unregtimes` and `/sharelist`.

use std::sync::Arc;

use anyhow::Context as _;
use kakusan_delivery::discord_code;
use kakusan_protocol::{Body, SealingKey, Snowflake, TimesWithdraw};
use kakusan_storage::times::{self, NewTimes};
use kakusan_storage::{SecretString, StorageError, destinations, outbox, peers};

use crate::component;
use crate::context::{Context, WEBHOOK_NAME};
use crate::error::{HandlerError, Outcome};
use crate::federation::{Outbound, registration};
use crate::i18n::Lang;
use crate::interaction::{Ctx, Reply};
use crate::reasons::reason;
use twilight_model::id::Id;

/// The members' times commands.
pub(crate) struct TimesCommands {
    ctx: Arc<Context>,
    outbound: Outbound,
}

impl TimesCommands {
    pub(crate) fn new(ctx: Arc<Context>, outbound: Outbound) -> Self {
        Self { ctx, outbound }
    }

    /// `/regtimes`; `mirror` is `None` when the member left the option out.
    pub(crate) async fn regtimes(&self, ctx: &Ctx, mirror: Option<bool>) -> Outcome<Reply> {
        ctx.require_posting(false)?;
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        if mirror == Some(true) && !self.ctx.config.message_content {
            return Ok(Reply::text(crate::tr!(
                ctx.lang,
                "regtimes-mirror-unavailable"
            )));
        }
        // A thread's webhook is its parent's and can post in the parent too: a thread of the
        // bot-com channel would hand peers a webhook into it.
        let botcom = local.server.botcom_channel_id;
        if ctx.channel_id.get() == botcom || ctx.thread_parent.map(Id::get) == Some(botcom) {
            return Ok(Reply::text(crate::tr!(ctx.lang, "regtimes-botcom")));
        }
        // Checked before a webhook is made, so the common refusals leave nothing behind.
        if let Some(existing) =
            times::times_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?
        {
            if existing.channel_id == ctx.channel_id.get() {
                return self.update_times(ctx, &existing, mirror).await;
            }
            return Ok(Reply::text(crate::tr!(
                ctx.lang,
                "regtimes-elsewhere",
                channel = existing.channel_id
            )));
        }
        // Discord gives threads and forum posts no webhooks: a thread's is its parent's, and
        // every call through it names the thread.
        let webhook = match self
            .ctx
            .http
            .create_webhook(ctx.thread_parent.unwrap_or(ctx.channel_id), WEBHOOK_NAME)
            .await
        {
            Ok(response) => response.model().await?,
            Err(error) if discord_code(&error).is_some() && ctx.thread_parent.is_some() => {
                // Every times in a thread has its own webhook in the parent, where Discord
                // allows 15 (30007): a busy forum fills up.
                return Ok(Reply::text(if discord_code(&error) == Some(MAX_WEBHOOKS) {
                    crate::tr!(ctx.lang, "thread-webhooks-full", parent = channel_of(ctx))
                } else {
                    crate::tr!(ctx.lang, "thread-webhook-refused", parent = channel_of(ctx))
                }));
            }
            Err(error) if discord_code(&error).is_some() => {
                return Ok(Reply::text(crate::tr!(ctx.lang, "regtimes-no-webhook")));
            }
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context("creating the times webhook")
                    .into());
            }
        };
        let mirror = mirror.unwrap_or(false);
        let token = SecretString::new(webhook.token.clone().context("a new webhook has a token")?);
        let stored = async {
            let mut transaction = self.ctx.pool.begin().await?;
            let times = times::register_times(
                &mut *transaction,
                &NewTimes {
                    server_guild_id: ctx.guild(),
                    member_id: ctx.user(),
                    member_name: &ctx.display_name,
                    channel_id: ctx.channel_id.get(),
                    parent_channel_id: ctx.thread_parent.map(Id::get),
                    webhook_id: webhook.id.get(),
                    webhook_token: &token,
                    mirror,
                },
            )
            .await
            .map_err(|error| match error {
                StorageError::DuplicateTimes => {
                    HandlerError::refused(crate::tr!(ctx.lang, "regtimes-duplicate"))
                }
                StorageError::ChannelTaken => {
                    HandlerError::refused(crate::tr!(ctx.lang, "regtimes-channel-taken"))
                }
                other => other.into(),
            })?;
            let mut announced = 0;
            for peer in peers::list_peers(&mut *transaction, ctx.guild()).await? {
                if peer.mutual {
                    let sealing = SealingKey::from_bytes(peer.sealing_key.0)
                        .context("the stored sealing key of a peer")?;
                    let registration = registration(&times, &sealing)?;
                    self.outbound
                        .send_envelope(
                            &mut transaction,
                            &local,
                            &peer,
                            Body::TimesAnnounce(registration),
                            None,
                        )
                        .await?;
                    announced += 1;
                }
            }
            transaction.commit().await?;
            Outcome::Ok(announced)
        }
        .await;
        let announced = match stored {
            Ok(announced) => announced,
            Err(error) => {
                // No half-made times: the webhook goes again.
                self.ctx.delete_webhook_quietly(webhook.id.get()).await;
                return Err(error);
            }
        };
        // Destinations learned before this times existed are told of now, in it.
        self.ctx.tell_of_destinations(&local, ctx.user()).await;
        let done = crate::tr!(
            ctx.lang,
            "regtimes-done",
            server = local.name.as_str(),
            count = announced
        );
        let after = if mirror {
            crate::tr!(ctx.lang, "regtimes-mirror-on")
        } else {
            crate::tr!(ctx.lang, "regtimes-use-here")
        };
        let mut parts = vec![done, after];
        if ctx.thread_parent.is_some() {
            parts.push(crate::tr!(
                ctx.lang,
                "thread-times-registered",
                parent = channel_of(ctx)
            ));
        }
        Ok(Reply::text(ctx.lang.join(&parts)))
    }

    /// `/regtimes` again in the member's own times channel: its options change in place; the
    /// webhook, and so the peers' destinations, stay as they are.
    async fn update_times(
        &self,
        ctx: &Ctx,
        existing: &times::Times,
        mirror: Option<bool>,
    ) -> Outcome<Reply> {
        let state = |on: bool| if on { "on" } else { "off" };
        let lang = ctx.lang;
        match mirror {
            Some(mirror) if mirror != existing.mirror => {
                let mut transaction = self.ctx.pool.begin().await?;
                times::set_mirror(&mut *transaction, existing.id, mirror).await?;
                if mirror {
                    // Mirror mode starts now: what was posted before is not relayed, also not
                    // by the catch-up after a restart. The interaction's id is a snowflake of
                    // this moment, comparable with message ids.
                    times::advance_read_cursor(&mut *transaction, existing.id, ctx.id.get())
                        .await?;
                }
                transaction.commit().await?;
                let updated = crate::tr!(
                    lang,
                    "regtimes-updated",
                    now = state(mirror),
                    was = state(existing.mirror)
                );
                let after = if mirror {
                    crate::tr!(lang, "regtimes-mirror-from-now")
                } else {
                    crate::tr!(lang, "regtimes-use-here")
                };
                Ok(Reply::text(lang.join(&[updated, after])))
            }
            _ => Ok(Reply::text(crate::tr!(
                lang,
                "regtimes-unchanged",
                mirror = state(existing.mirror)
            ))),
        }
    }

    pub(crate) async fn unregtimes(&self, ctx: &Ctx) -> Outcome<Reply> {
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let mut transaction = self.ctx.pool.begin().await?;
        let Some(times) =
            times::unregister_times(&mut *transaction, ctx.user(), ctx.channel_id.get()).await?
        else {
            return Ok(Reply::text(crate::tr!(ctx.lang, "unregtimes-not-yours")));
        };
        let mut told = 0;
        for peer in peers::list_peers(&mut *transaction, ctx.guild()).await? {
            if peer.mutual {
                let withdraw = Body::TimesWithdraw(TimesWithdraw {
                    member: Snowflake::new(ctx.user()).context("the member's id")?,
                });
                self.outbound
                    .send_envelope(&mut transaction, &local, &peer, withdraw, None)
                    .await?;
                told += 1;
            }
        }
        transaction.commit().await?;
        self.ctx.delete_webhook_quietly(times.webhook_id).await;
        Ok(Reply::text(crate::tr!(
            ctx.lang,
            "unregtimes-done",
            count = told
        )))
    }

    pub(crate) async fn sharelist(&self, ctx: &Ctx) -> Outcome<Reply> {
        let mine = times::times_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?;
        let destinations =
            destinations::destinations_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?;
        let lang = ctx.lang;
        let mut lines = Vec::new();
        lines.extend(crate::pause::sharelist_line(&self.ctx, ctx).await?);
        match mine {
            Some(times) => lines.push(crate::tr!(
                lang,
                "sharelist-here",
                channel = times.channel_id,
                mirror = if times.mirror { "on" } else { "off" },
                state = state(lang, times.broken_reason.as_deref())
            )),
            None => lines.push(crate::tr!(lang, "sharelist-no-times")),
        }
        if destinations.is_empty() {
            lines.push(crate::tr!(lang, "sharelist-nowhere"));
        }
        let mut buttons = Vec::new();
        for destination in &destinations {
            let stopped = destination.stopped_at.is_some();
            lines.push(crate::tr!(
                lang,
                "sharelist-destination",
                server = destination.peer_name.as_str(),
                member = destination.member_name.as_str(),
                state = state(lang, destination.broken_reason.as_deref()),
                stopped = if stopped { "yes" } else { "no" }
            ));
            buttons.push(component::destination_button(
                destination.id,
                stopped,
                &destination.peer_name,
                lang,
            ));
        }
        if let Some(line) = crate::forget::unconfirmed_line(&self.ctx, ctx).await? {
            lines.push(line);
        }
        Ok(Reply {
            text: lines.join("\n"),
            components: component::rows(buttons),
            replaces_message: false,
        })
    }

    /// The Stop and Start buttons of `/sharelist`: the member decides where their posts go. A
    /// stopped destination gets nothing, also not the copies already waiting for it.
    pub(crate) async fn set_destination_stopped(
        &self,
        ctx: &Ctx,
        destination_id: i64,
        stopped: bool,
    ) -> Outcome<Reply> {
        let mut transaction = self.ctx.pool.begin().await?;
        let Some(destination) = destinations::set_stopped(
            &mut *transaction,
            ctx.guild(),
            ctx.user(),
            destination_id,
            stopped,
        )
        .await?
        else {
            return Ok(Reply::text(crate::tr!(ctx.lang, "destination-not-yours")));
        };
        if stopped {
            outbox::fail_queued_for_destination(
                &mut *transaction,
                destination.id,
                "you stopped this destination",
            )
            .await?;
        }
        transaction.commit().await?;
        let server = destination.peer_name.as_str();
        Ok(Reply::text(if stopped {
            crate::tr!(ctx.lang, "destination-stopped", server = server)
        } else {
            crate::tr!(ctx.lang, "destination-started", server = server)
        }))
    }
}

/// Discord's JSON error code for a channel that already has its 15 webhooks.
const MAX_WEBHOOKS: u64 = 30007;

/// The parent channel of the thread the command was run in, as a mention for a sentence.
fn channel_of(ctx: &Ctx) -> String {
    ctx.thread_parent
        .map(|parent| format!("<#{parent}>"))
        .unwrap_or_default()
}

/// A times' or destination's state, its stored reason in the member's language.
fn state(lang: Lang, broken: Option<&str>) -> String {
    match broken {
        None => crate::tr!(lang, "state-ok"),
        Some(stored) => crate::tr!(lang, "state-broken", reason = reason(lang, Some(stored))),
    }
}
