//! Interactions: who invoked what where, the permission check, and the replies (inside
//! Discord's 3-second window: commands are deferred and their answer edited in).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use twilight_model::application::command::{CommandOptionChoice, CommandOptionChoiceValue};
use twilight_model::application::interaction::application_command::{
    CommandData, CommandDataOption, CommandOptionValue,
};
use twilight_model::application::interaction::message_component::MessageComponentInteractionData;
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};
use twilight_model::channel::message::{AllowedMentions, Component, MessageFlags};
use twilight_model::guild::Permissions;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, InteractionMarker, UserMarker};
use twilight_model::user::User;

use crate::admin::Admin;
use crate::block::Blocks;
use crate::component::ComponentAction;
use crate::context::Context;
use crate::error::{HandlerError, Outcome};
use crate::forget::Forgets;
use crate::i18n::Lang;
use crate::model::KakusanCommand;
use crate::pause::Pauses;
use crate::relay::{CheckedHere, Relays};
use crate::times::TimesCommands;

/// The invoking side of an interaction.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) id: Id<InteractionMarker>,
    pub(crate) token: String,
    pub(crate) guild_id: Id<GuildMarker>,
    pub(crate) channel_id: Id<ChannelMarker>,
    /// When the command was run in a thread or forum post, the channel it belongs to: the one
    /// that can hold a webhook for it.
    pub(crate) thread_parent: Option<Id<ChannelMarker>>,
    pub(crate) user_id: Id<UserMarker>,
    /// The member's name in this guild: nickname, else global name, else user name.
    pub(crate) display_name: String,
    pub(crate) avatar_url: Option<String>,
    /// The language of every sentence this member is shown (see [`Lang::negotiate`]).
    pub(crate) lang: Lang,
    /// The guild's locale as the interaction gave it, recorded for the lines kakusan writes
    /// there without an interaction.
    guild_locale: Option<String>,
    permissions: Permissions,
}

impl Ctx {
    fn from_interaction(interaction: &Interaction) -> Option<Self> {
        let member = interaction.member.as_ref()?;
        let user = member.user.as_ref().or(interaction.user.as_ref())?;
        let display_name = display_name(member.nick.as_deref(), user);
        let avatar_url = avatar_url(user);
        Some(Self {
            id: interaction.id,
            token: interaction.token.clone(),
            guild_id: interaction.guild_id?,
            channel_id: interaction.channel.as_ref().map(|c| c.id)?,
            thread_parent: interaction
                .channel
                .as_ref()
                .filter(|c| c.kind.is_thread())
                .and_then(|c| c.parent_id),
            user_id: user.id,
            display_name,
            avatar_url,
            lang: Lang::negotiate(
                interaction.locale.as_deref(),
                interaction.guild_locale.as_deref(),
            ),
            guild_locale: interaction.guild_locale.clone(),
            permissions: member.permissions.unwrap_or(Permissions::empty()),
        })
    }

    /// Whether the member may manage this server: the server-side half of the permission
    /// check (Discord's `default_member_permissions` is the other, and a server may override
    /// it).
    pub(crate) fn can_manage_guild(&self) -> bool {
        self.permissions
            .intersects(Permissions::MANAGE_GUILD | Permissions::ADMINISTRATOR)
    }

    /// Refuses, with one sentence, a member who may not post in this channel: kakusan must not
    /// post for them where they could not themselves (View Channel and Send Messages, and
    /// Attach Files for a file). Discord resolves the member's permissions in the channel,
    /// overwrites included, and sends them with the interaction.
    pub(crate) fn require_posting(&self, with_file: bool) -> Outcome<()> {
        // In a thread or forum post Discord asks for Send Messages in Threads instead.
        let send = if self.thread_parent.is_some() {
            Permissions::SEND_MESSAGES_IN_THREADS
        } else {
            Permissions::SEND_MESSAGES
        };
        let mut needed = Permissions::VIEW_CHANNEL | send;
        if with_file {
            needed |= Permissions::ATTACH_FILES;
        }
        if self.permissions.contains(Permissions::ADMINISTRATOR)
            || self.permissions.contains(needed)
        {
            return Ok(());
        }
        Err(HandlerError::refused(
            if with_file && self.permissions.contains(Permissions::VIEW_CHANNEL | send) {
                crate::tr!(self.lang, "no-attach-permission")
            } else {
                crate::tr!(self.lang, "no-send-permission")
            },
        ))
    }

    pub(crate) fn guild(&self) -> u64 {
        self.guild_id.get()
    }

    pub(crate) fn user(&self) -> u64 {
        self.user_id.get()
    }
}

/// An answer for the member: text and, optionally, buttons.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub(crate) text: String,
    pub(crate) components: Vec<Component>,
    /// For a button: the answer replaces the message the button is on (so an accepted request
    /// loses its Accept button) instead of being a new message for the presser alone.
    pub(crate) replaces_message: bool,
}

impl Reply {
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// The answer to show for a handler's outcome: its reply, its refusal, or (logged) the
/// sentence for an error of ours.
fn settle(result: Outcome<Reply>, what: &str, lang: Lang) -> Reply {
    match result {
        Ok(reply) => reply,
        Err(error) => {
            if !matches!(error, HandlerError::Refused(_)) {
                tracing::error!("{what} failed: {error:#}");
            }
            Reply::text(error.sentence(lang))
        }
    }
}

/// How long `/here` may take to store its relay before Discord must be answered anyway
/// (Discord gives 3 seconds).
const STORE_BEFORE_ACK: Duration = Duration::from_secs(2);

/// A place in a line of events; dropping it lets the next one go (see `App::handle`).
pub(crate) type InLine = tokio::sync::oneshot::Sender<()>;

/// The line a `/here` interaction waits in: its member's, so that one member's relays are
/// stored, and so leave, in the order the gateway delivered them. `None` for every other
/// interaction.
pub(crate) fn here_line(interaction: &Interaction) -> Option<u64> {
    let is_here = interaction.kind == InteractionType::ApplicationCommand
        && matches!(&interaction.data, Some(InteractionData::ApplicationCommand(data)) if data.name == "here");
    let member = interaction
        .member
        .as_ref()
        .and_then(|member| member.user.as_ref())
        .or(interaction.user.as_ref())?;
    is_here.then_some(member.id.get())
}

/// The interaction router: every command, autocomplete and button goes to its handler type,
/// and the answers go back to Discord from here.
pub(crate) struct Interactions {
    ctx: Arc<Context>,
    admin: Admin,
    times: TimesCommands,
    relays: Relays,
    forgets: Arc<Forgets>,
    pauses: Pauses,
    blocks: Arc<Blocks>,
}

impl Interactions {
    pub(crate) fn new(
        ctx: Arc<Context>,
        admin: Admin,
        times: TimesCommands,
        relays: Relays,
        forgets: Arc<Forgets>,
        blocks: Arc<Blocks>,
    ) -> Self {
        Self {
            pauses: Pauses::new(Arc::clone(&ctx)),
            ctx,
            admin,
            times,
            relays,
            forgets,
            blocks,
        }
    }

    /// `line`: the interaction's place in its member's line of `/here`s (see
    /// [`here_line`]), given up as soon as the relay is stored.
    pub(crate) async fn interaction(
        &self,
        mut interaction: Interaction,
        line: Option<InLine>,
    ) -> anyhow::Result<()> {
        let Some(ctx) = Ctx::from_interaction(&interaction) else {
            // Commands are guild-only; anything else is not ours to answer.
            return Ok(());
        };
        match (interaction.kind, interaction.data.take()) {
            (
                InteractionType::ApplicationCommandAutocomplete,
                Some(InteractionData::ApplicationCommand(data)),
            ) => self.autocomplete(&ctx, &data).await,
            (
                InteractionType::ApplicationCommand,
                Some(InteractionData::ApplicationCommand(data)),
            ) => self.command(ctx, *data, line).await,
            (InteractionType::MessageComponent, Some(InteractionData::MessageComponent(data))) => {
                self.component(ctx, &data).await
            }
            _ => Ok(()),
        }
    }

    #[tracing::instrument(skip_all, fields(guild = ctx.guild(), user = ctx.user(), command = %data.name))]
    async fn command(
        &self,
        ctx: Ctx,
        data: CommandData,
        line: Option<InLine>,
    ) -> anyhow::Result<()> {
        let command = match KakusanCommand::parse(data) {
            Ok(command) => command,
            Err(error) => {
                let text = crate::tr!(ctx.lang, "command-unreadable", error = error.to_string());
                return self.respond(&ctx, &Reply::text(text), true).await;
            }
        };
        let name = command.name();
        metrics::counter!("kakusan_command_uses_total", "command" => name).increment(1);
        if command.needs_manage_guild() && !ctx.can_manage_guild() {
            let text = crate::tr!(ctx.lang, "needs-manage-server", command = name);
            return self.respond(&ctx, &Reply::text(text), true).await;
        }
        if let KakusanCommand::Here(here) = command {
            // What `/here` can refuse is refused at once, before anything is stored.
            let checked = ctx
                .require_posting(here.attachment.is_some())
                .and_then(|()| self.relays.check_here(&here, ctx.lang));
            match checked {
                Ok(checked) => self.here(&ctx, checked, line).await?,
                Err(refused) => {
                    self.respond(&ctx, &settle(Err(refused), "/here", ctx.lang), true)
                        .await?
                }
            }
        } else {
            self.defer(&ctx).await?;
            let result = self.run_command(&ctx, command).await;
            let reply = settle(result, &format!("/{name}"), ctx.lang);
            self.edit(&ctx, &reply).await?;
        }
        // Counted once the member has the answer: with the database down this waits for a
        // connection, which must not eat into Discord's 3 seconds.
        if let Err(error) =
            kakusan_storage::usage::count_command_use(&self.ctx.pool, ctx.guild(), name).await
        {
            tracing::warn!(%error, "could not count the command's use");
        }
        if let Some(locale) = &ctx.guild_locale
            && let Err(error) =
                kakusan_storage::servers::set_locale(&self.ctx.pool, ctx.guild(), locale).await
        {
            tracing::warn!(%error, "could not record the guild's locale");
        }
        Ok(())
    }

    /// `/here`: the relay is stored before the member is answered at all, so a `/here` that
    /// Discord shows as acknowledged survives anything, even `kill -9` a moment later. Then
    /// the place in the member's line goes to their next `/here`, and the answer reports the
    /// delivery.
    async fn here(&self, ctx: &Ctx, here: CheckedHere, line: Option<InLine>) -> anyhow::Result<()> {
        let store = self.relays.store_here(ctx, &here);
        tokio::pin!(store);
        // A database too slow for Discord's 3 seconds gets the answer deferred first; the
        // relay is still stored, only no longer before the acknowledgement.
        let (stored, deferred) = match tokio::time::timeout(STORE_BEFORE_ACK, &mut store).await {
            Ok(stored) => (stored, false),
            Err(_) => {
                self.defer(ctx).await?;
                (store.await, true)
            }
        };
        drop(line);
        let reply = match stored {
            Ok(stored) => {
                if !deferred {
                    self.defer(ctx).await?;
                }
                settle(self.relays.report_here(&stored).await, "/here", ctx.lang)
            }
            Err(error) => {
                let reply = settle(Err(error), "/here", ctx.lang);
                if !deferred {
                    return self.respond(ctx, &reply, true).await;
                }
                reply
            }
        };
        self.edit(ctx, &reply).await
    }

    /// Which handler a command goes to: a new command adds its line here.
    async fn run_command(&self, ctx: &Ctx, command: KakusanCommand) -> Outcome<Reply> {
        match command {
            KakusanCommand::Setup(setup) => self.admin.setup(ctx, setup).await,
            KakusanCommand::Card => self.admin.show_card(ctx).await,
            KakusanCommand::Regserver(regserver) => {
                self.admin.regserver(ctx, &regserver.card).await
            }
            KakusanCommand::Unregserver(unregserver) => {
                self.admin
                    .unregserver(
                        ctx,
                        &unregserver.server,
                        unregserver.keep_master == Some(true),
                    )
                    .await
            }
            KakusanCommand::Serverlist => self.admin.serverlist(ctx).await,
            KakusanCommand::Regtimes(regtimes) => self.times.regtimes(ctx, regtimes.mirror).await,
            KakusanCommand::Unregtimes => self.times.unregtimes(ctx).await,
            KakusanCommand::Sharelist => self.times.sharelist(ctx).await,
            KakusanCommand::Ping(ping) => self.admin.ping(ctx, &ping.server).await,
            KakusanCommand::Pingall => self.admin.pingall(ctx).await,
            KakusanCommand::Queue(queue) => {
                self.relays.queue(ctx, queue.all.unwrap_or(false)).await
            }
            KakusanCommand::ForgetMe => self.forgets.forget_me(ctx).await,
            KakusanCommand::Pause => self.pauses.pause(ctx).await,
            KakusanCommand::Resume => self.pauses.resume(ctx).await,
            KakusanCommand::Block(block) => self.blocks.block(ctx, block).await,
            KakusanCommand::Unblock(unblock) => self.blocks.unblock(ctx, unblock).await,
            // Answered in `Interactions::here`, before this is reached.
            KakusanCommand::Here(_) => Ok(Reply::default()),
        }
    }

    async fn autocomplete(&self, ctx: &Ctx, data: &CommandData) -> anyhow::Result<()> {
        let typed = focused_text(&data.options).unwrap_or_default();
        let names = kakusan_storage::peers::peer_names_starting_with(
            &self.ctx.pool,
            ctx.guild(),
            &typed.to_lowercase(),
            25,
        )
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "autocomplete could not read the peers");
            Vec::new()
        });
        let choices = names
            .into_iter()
            .map(|name| CommandOptionChoice {
                name: name.clone(),
                name_localizations: None,
                value: CommandOptionChoiceValue::String(name),
            })
            .collect();
        let response = InteractionResponse {
            kind: InteractionResponseType::ApplicationCommandAutocompleteResult,
            data: Some(InteractionResponseData {
                choices: Some(choices),
                ..Default::default()
            }),
        };
        self.ctx
            .http
            .interaction(self.ctx.config.application_id)
            .create_response(ctx.id, &ctx.token, &response)
            .await
            .context("answering autocomplete")?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(guild = ctx.guild(), user = ctx.user(), custom_id = %data.custom_id))]
    async fn component(
        &self,
        ctx: Ctx,
        data: &MessageComponentInteractionData,
    ) -> anyhow::Result<()> {
        let Some(action) = ComponentAction::parse(&data.custom_id) else {
            return self
                .respond(
                    &ctx,
                    &Reply::text(crate::tr!(ctx.lang, "button-unknown")),
                    true,
                )
                .await;
        };
        let result = match action {
            ComponentAction::AcceptPeer { request_id } => {
                self.admin.accept_peer(&ctx, request_id).await
            }
            ComponentAction::CancelRelay { relay_id } => {
                self.relays.cancel_relay(&ctx, relay_id).await
            }
            ComponentAction::StopDestination { destination_id } => {
                self.times
                    .set_destination_stopped(&ctx, destination_id, true)
                    .await
            }
            ComponentAction::StartDestination { destination_id } => {
                self.times
                    .set_destination_stopped(&ctx, destination_id, false)
                    .await
            }
            ComponentAction::ForgetMe { member_id } => {
                // The report waits for the peers' answers: longer than Discord's 3 seconds.
                self.defer(&ctx).await?;
                let result = self.forgets.confirm(&ctx, member_id).await;
                let reply = settle(result, "/forget-me", ctx.lang);
                return self.edit(&ctx, &reply).await;
            }
        };
        let reply = settle(result, "a button", ctx.lang);
        if reply.replaces_message {
            return self
                .answer(&ctx, InteractionResponseType::UpdateMessage, &reply, false)
                .await;
        }
        self.respond(&ctx, &reply, true).await
    }

    /// The first answer, sent at once.
    pub(crate) async fn respond(
        &self,
        ctx: &Ctx,
        reply: &Reply,
        ephemeral: bool,
    ) -> anyhow::Result<()> {
        self.answer(
            ctx,
            InteractionResponseType::ChannelMessageWithSource,
            reply,
            ephemeral,
        )
        .await
    }

    /// The first answer, of `kind`: a new message, or the button's message updated.
    async fn answer(
        &self,
        ctx: &Ctx,
        kind: InteractionResponseType,
        reply: &Reply,
        ephemeral: bool,
    ) -> anyhow::Result<()> {
        let response = InteractionResponse {
            kind,
            data: Some(InteractionResponseData {
                allowed_mentions: Some(AllowedMentions::default()),
                components: Some(reply.components.clone()),
                content: Some(clip(&reply.text)),
                flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
                ..Default::default()
            }),
        };
        self.ctx
            .http
            .interaction(self.ctx.config.application_id)
            .create_response(ctx.id, &ctx.token, &response)
            .await
            .context("answering an interaction")?;
        Ok(())
    }

    /// "kakusan is thinking…", visible to the member only; [`App::edit`] fills it in.
    async fn defer(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let response = InteractionResponse {
            kind: InteractionResponseType::DeferredChannelMessageWithSource,
            data: Some(InteractionResponseData {
                flags: Some(MessageFlags::EPHEMERAL),
                ..Default::default()
            }),
        };
        self.ctx
            .http
            .interaction(self.ctx.config.application_id)
            .create_response(ctx.id, &ctx.token, &response)
            .await
            .context("deferring an interaction")?;
        Ok(())
    }

    /// Replaces the deferred answer with the real one.
    async fn edit(&self, ctx: &Ctx, reply: &Reply) -> anyhow::Result<()> {
        let none = AllowedMentions::default();
        let text = clip(&reply.text);
        self.ctx
            .http
            .interaction(self.ctx.config.application_id)
            .update_response(&ctx.token)
            .content(Some(&text))
            .components(Some(&reply.components))
            .allowed_mentions(Some(&none))
            .await
            .context("editing an interaction's answer")?;
        Ok(())
    }
}

/// A member's name in a guild: the nickname there, else the global display name, else the
/// user name.
pub(crate) fn display_name(nick: Option<&str>, user: &User) -> String {
    nick.or(user.global_name.as_deref())
        .unwrap_or(&user.name)
        .to_owned()
}

/// The user's avatar on Discord's CDN, if they set one.
pub(crate) fn avatar_url(user: &User) -> Option<String> {
    user.avatar
        .map(|hash| format!("https://cdn.discordapp.com/avatars/{}/{hash}.png", user.id))
}

/// What the member has typed into the focused option so far.
fn focused_text(options: &[CommandDataOption]) -> Option<String> {
    options.iter().find_map(|option| match &option.value {
        CommandOptionValue::Focused(text, _) => Some(text.clone()),
        CommandOptionValue::SubCommand(inner) | CommandOptionValue::SubCommandGroup(inner) => {
            focused_text(inner)
        }
        _ => None,
    })
}

/// A message holds 2,000 characters; longer answers are cut with an ellipsis.
pub(crate) fn clip(text: &str) -> String {
    if text.chars().count() <= 2000 {
        return text.to_owned();
    }
    text.chars().take(1999).collect::<String>() + "…"
}
