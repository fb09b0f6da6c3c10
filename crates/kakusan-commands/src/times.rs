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
use crate::interaction::{Ctx, Reply};

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
        let local = self.ctx.local(ctx.guild()).await?;
        if mirror == Some(true) && !self.ctx.config.message_content {
            return Ok(Reply::text(
                "Mirror mode needs the Message Content intent, which this deployment does not request; ask its operator to set KAKUSAN_MIRROR=true, or register without mirror and use /here.",
            ));
        }
        if ctx.channel_id.get() == local.server.botcom_channel_id {
            return Ok(Reply::text(
                "The bot-com channel cannot be a times channel; run /regtimes in your own times channel.",
            ));
        }
        // Checked before a webhook is made, so the common refusals leave nothing behind.
        if let Some(existing) =
            times::times_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?
        {
            if existing.channel_id == ctx.channel_id.get() {
                return self.update_times(ctx, &existing, mirror).await;
            }
            return Ok(Reply::text(format!(
                "You already have a times channel in this server: <#{}>. Run /unregtimes there first.",
                existing.channel_id
            )));
        }
        let webhook = match self
            .ctx
            .http
            .create_webhook(ctx.channel_id, WEBHOOK_NAME)
            .await
        {
            Ok(response) => response.model().await?,
            Err(error) if discord_code(&error).is_some() => {
                return Ok(Reply::text(
                    "I cannot create a webhook in this channel: give me View Channel and Manage Webhooks here, then run /regtimes again.",
                ));
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
                    webhook_id: webhook.id.get(),
                    webhook_token: &token,
                    mirror,
                },
            )
            .await
            .map_err(|error| match error {
                StorageError::DuplicateTimes => HandlerError::refused(
                    "You already have a times channel in this server; run /unregtimes there first.",
                ),
                StorageError::ChannelTaken => {
                    HandlerError::refused("This channel is already someone's times channel.")
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
        let mirror_line = if mirror {
            " Your plain messages here are relayed too (mirror mode); edits and deletes follow."
        } else {
            " Post with /here to reach your other times channels."
        };
        Ok(Reply::text(format!(
            "This channel is your times in **{}**; it was announced to {announced} mutual peer(s).{mirror_line}",
            local.name
        )))
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
                let after = if mirror {
                    " Your plain messages here are relayed from now on; edits and deletes follow."
                } else {
                    " Post with /here to reach your other times channels."
                };
                Ok(Reply::text(format!(
                    "Updated your times here: mirror mode is now {} (it was {}). Its webhook and your destinations stay as they are.{after}",
                    state(mirror),
                    state(existing.mirror)
                )))
            }
            _ => Ok(Reply::text(format!(
                "This channel already is your times here, with mirror mode {}; nothing changed.",
                state(existing.mirror)
            ))),
        }
    }

    pub(crate) async fn unregtimes(&self, ctx: &Ctx) -> Outcome<Reply> {
        let local = self.ctx.local(ctx.guild()).await?;
        let mut transaction = self.ctx.pool.begin().await?;
        let Some(times) =
            times::unregister_times(&mut *transaction, ctx.user(), ctx.channel_id.get()).await?
        else {
            return Ok(Reply::text(
                "This channel is not your times channel; run /unregtimes in the channel you registered (see /sharelist).",
            ));
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
        Ok(Reply::text(format!(
            "This channel is no longer your times; {told} peer(s) were told to stop sending here."
        )))
    }

    pub(crate) async fn sharelist(&self, ctx: &Ctx) -> Outcome<Reply> {
        let mine = times::times_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?;
        let destinations =
            destinations::destinations_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?;
        let mut lines = Vec::new();
        match mine {
            Some(times) => lines.push(format!(
                "Here: <#{}>{}, {}",
                times.channel_id,
                if times.mirror { " (mirror)" } else { "" },
                state(times.broken_reason.as_deref())
            )),
            None => lines.push("Here: no times channel (run /regtimes in yours).".to_owned()),
        }
        if destinations.is_empty() {
            lines.push(
                "Nowhere else yet: register your times with /regtimes in the peered servers too."
                    .to_owned(),
            );
        }
        let mut buttons = Vec::new();
        for destination in &destinations {
            let stopped = destination.stopped_at.is_some();
            lines.push(format!(
                "**{}**: times of {}, {}{}",
                destination.peer_name,
                destination.member_name,
                state(destination.broken_reason.as_deref()),
                if stopped { ", stopped by you" } else { "" }
            ));
            buttons.push(component::destination_button(
                destination.id,
                stopped,
                &destination.peer_name,
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
            return Ok(Reply::text(
                "That destination is not yours, or it is gone; see /sharelist.",
            ));
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
        Ok(Reply::text(if stopped {
            format!(
                "Stopped: your posts no longer go to **{}** until you start it again (/sharelist).",
                destination.peer_name
            )
        } else {
            format!(
                "Started: your posts go to **{}** again.",
                destination.peer_name
            )
        }))
    }
}

fn state(broken: Option<&str>) -> String {
    match broken {
        None => "ok".to_owned(),
        Some(reason) => format!("broken: {reason}"),
    }
}
