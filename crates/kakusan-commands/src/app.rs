//! The entry of every gateway event: [`App`] puts it in its line and routes it to the type
//! that handles it (interactions, envelopes, mirror mode).

use std::future::Future;
use std::sync::{Arc, OnceLock};

use kakusan_storage::PgPool;
use twilight_http::Client;
use twilight_model::channel::Message;
use twilight_model::gateway::event::Event;
use twilight_model::gateway::payload::incoming::GuildCreate;
use twilight_model::id::Id;
use twilight_model::id::marker::UserMarker;

use crate::admin::Admin;
use crate::answers::Answers;
use crate::block::Blocks;
use crate::context::{AppConfig, Context};
use crate::error::{Outcome, through_outage};
use crate::federation::{Inbound, Outbound};
use crate::forget::Forgets;
use crate::interaction::{Interactions, here_line};
use crate::lines::{InLine, Turns};
use crate::mirror::Mirror;
use crate::relay::Relays;
use crate::rotation::Rotations;
use crate::times::TimesCommands;

/// The event handlers of one process, passed as `Arc<App>`. Each handler type owns its state;
/// this type owns only the order of events and the bot's own id.
pub struct App {
    ctx: Arc<Context>,
    interactions: Interactions,
    inbound: Arc<Inbound>,
    mirror: Mirror,
    rotations: Arc<Rotations>,
    /// `/block`'s enforcement: relays of blocked members are removed as they arrive.
    blocks: Arc<Blocks>,
    /// The commands of this process waiting for a peer's answer.
    answers: Arc<Answers>,
    /// The bot's own user id, learned from READY, so its own messages are never handled.
    bot_user: OnceLock<Id<UserMarker>>,
    /// The order of message events per channel, and of each member's `/here`s.
    turns: Turns,
}

impl App {
    /// The handlers on `pool`, calling Discord through `http`.
    pub fn new(pool: PgPool, http: Arc<Client>, config: AppConfig) -> Arc<Self> {
        let ctx = Arc::new(Context { pool, http, config });
        let outbound = Outbound::new(Arc::clone(&ctx));
        let answers = Arc::new(Answers::new(ctx.pool.clone()));
        let forgets = Arc::new(Forgets::new(
            Arc::clone(&ctx),
            outbound.clone(),
            Arc::clone(&answers),
        ));
        let inbound = Arc::new(Inbound::new(
            Arc::clone(&ctx),
            outbound.clone(),
            Arc::clone(&answers),
            Arc::clone(&forgets),
        ));
        let rotations = Arc::new(Rotations::new(Arc::clone(&ctx), outbound.clone()));
        let blocks = Arc::new(Blocks::new(Arc::clone(&ctx)));
        let interactions = Interactions::new(
            Arc::clone(&ctx),
            Admin::new(
                Arc::clone(&ctx),
                outbound.clone(),
                Arc::clone(&inbound),
                Arc::clone(&answers),
                Arc::clone(&rotations),
            ),
            TimesCommands::new(Arc::clone(&ctx), outbound),
            Relays::new(Arc::clone(&ctx)),
            forgets,
            Arc::clone(&blocks),
        );
        Arc::new(Self {
            blocks,
            answers,
            mirror: Mirror::new(Arc::clone(&ctx)),
            rotations,
            ctx,
            interactions,
            inbound,
            bot_user: OnceLock::new(),
            turns: Turns::default(),
        })
    }

    /// Handles one gateway event. An error is the caller's to log; the member already got a
    /// sentence where one was due.
    ///
    /// Call it in the order the events arrive: message events of one channel take their turn
    /// here, synchronously, and the returned futures handle them one after another in that
    /// order (an edit must not overtake its message, nor an announcement the sync before it).
    /// Everything else runs as soon as the future is polled.
    pub fn handle(
        self: &Arc<Self>,
        event: Event,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + use<> {
        let turn = line_of(&event).map(|(line, gated)| self.turns.take(line, gated));
        // A new session: message events wait until what arrived while kakusan was away has
        // been read, so that the old envelopes go first.
        let gate = matches!(event, Event::Ready(_)).then(|| self.turns.close_gate());
        let app = Arc::clone(self);
        async move {
            let done = match turn {
                Some(turn) => Some(turn.wait().await),
                None => None,
            };
            let outcome = app.dispatch(event, done).await;
            drop(gate);
            Ok(outcome?)
        }
    }

    /// `line`: the event's place in its line, held until the handler is done with it (a
    /// message event's until the end, a `/here`'s until its relay is stored).
    async fn dispatch(&self, event: Event, line: Option<InLine>) -> Outcome<()> {
        match event {
            Event::Ready(ready) => {
                let _ = self.bot_user.set(ready.user.id);
                let guilds: Vec<u64> = ready.guilds.iter().map(|guild| guild.id.get()).collect();
                self.inbound.catch_up(&guilds).await;
                self.mirror.catch_up(&guilds).await;
                // Webhook rotations a crash left half-done.
                self.rotations.finish_all(&guilds).await;
                Ok(())
            }
            Event::InteractionCreate(interaction) => {
                Ok(self.interactions.interaction(interaction.0, line).await?)
            }
            // The guild's language, for the lines kakusan writes there without a member's
            // interaction to take one from.
            Event::GuildCreate(guild) => match &*guild {
                GuildCreate::Available(guild) => {
                    self.guild_locale(guild.id.get(), &guild.preferred_locale)
                        .await
                }
                GuildCreate::Unavailable(_) => Ok(()),
            },
            Event::GuildUpdate(guild) => {
                self.guild_locale(guild.id.get(), &guild.preferred_locale)
                    .await
            }
            Event::MessageCreate(message) if !self.is_own(&message.author.id) => {
                through_outage(|| self.message_created(&message)).await
            }
            Event::MessageUpdate(message) if !self.is_own(&message.author.id) => {
                through_outage(|| self.mirror.mirror_edit(&message.0)).await
            }
            Event::MessageDelete(deleted) => {
                through_outage(|| self.mirror.mirror_delete(deleted.channel_id, deleted.id)).await
            }
            _ => Ok(()),
        }
    }

    /// Records a guild's preferred locale; a guild that is no server yet has none to record.
    async fn guild_locale(&self, guild: u64, locale: &str) -> Outcome<()> {
        kakusan_storage::servers::set_locale(&self.ctx.pool, guild, locale).await?;
        Ok(())
    }

    /// Hands the peers' answers (pongs, `/forget-me` confirmations) that any process of the
    /// deployment reads to the commands of this process waiting for them. Run it for as long as
    /// the process runs (it never returns).
    pub async fn listen_for_answers(self: Arc<Self>) {
        Arc::clone(&self.answers).listen().await;
    }

    /// Tells the handlers the bot's own user id. A scaled-out worker learns it at start
    /// instead of from READY, which only one worker sees; a later READY changes nothing.
    pub fn know_bot_user(&self, id: Id<UserMarker>) {
        let _ = self.bot_user.set(id);
    }

    /// The line `event` keeps its order in: a message event's channel, a `/here`'s member;
    /// `None` for events with no order to keep. A scaled-out gateway partitions events by it,
    /// so that one worker at a time handles a line, in order.
    pub fn order_key(event: &Event) -> Option<u64> {
        line_of(event).map(|(line, _)| line)
    }

    /// Whether `event` waits for a new session's catch-up (a message event): `run` holds it
    /// in its line, a scaled-out worker at the catch-up gate.
    pub fn waits_for_catch_up(event: &Event) -> bool {
        line_of(event).is_some_and(|(_, gated)| gated)
    }

    fn is_own(&self, author: &Id<UserMarker>) -> bool {
        self.bot_user.get() == Some(author)
    }

    /// Routes a new message: envelopes in a bot-com channel, mirror mode in times channels.
    async fn message_created(&self, message: &Message) -> Outcome<()> {
        if let Some(webhook) = message.webhook_id {
            // Only our master webhook's messages are envelopes; nothing else in a bot-com
            // channel is ever parsed, and webhook messages are never relayed (no loops).
            let server = kakusan_storage::servers::server_by_botcom_channel(
                &self.ctx.pool,
                message.channel_id.get(),
            )
            .await?;
            if let Some(server) = server
                && server.master_webhook_id == webhook.get()
            {
                // Already read by the catch-up at the start of this session.
                if server
                    .envelopes_read_until
                    .is_some_and(|read| message.id.get() <= read)
                {
                    return Ok(());
                }
                return self.inbound.envelope_message(server, message).await;
            }
            // Elsewhere a webhook message may be a peer's relay in a member's times here.
            return self.blocks.arrived(message, webhook.get()).await;
        }
        if message.author.bot {
            return Ok(());
        }
        self.mirror.mirror_send(message).await
    }
}

/// The line of `event` and whether the catch-up gate holds it. A member's `/here`s are stored
/// in their order too; they need not wait for a catch-up (they are not message events), so
/// their line has no gate.
fn line_of(event: &Event) -> Option<(u64, bool)> {
    match event {
        Event::MessageCreate(message) => Some((message.channel_id.get(), true)),
        Event::MessageUpdate(message) => Some((message.channel_id.get(), true)),
        Event::MessageDelete(deleted) => Some((deleted.channel_id.get(), true)),
        Event::InteractionCreate(interaction) => {
            here_line(interaction).map(|member| (member, false))
        }
        _ => None,
    }
}
