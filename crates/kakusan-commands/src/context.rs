//! What every handler shares: the database pool, the Discord client and the deployment's
//! configuration, with the few things all of them do through those (load this guild's server,
//! post a line in a bot-com channel, read a channel's history, drop a webhook).

use std::sync::Arc;

use anyhow::Context as _;
use kakusan_protocol::{SealingSecret, ServerKeys, ServerName, SigningSecret};
use kakusan_storage::servers::{self, Server};
use kakusan_storage::{PgPool, StorageError, destinations, times};
use twilight_http::Client;
use twilight_model::channel::Message;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::id::Id;
use twilight_model::id::marker::{ApplicationMarker, ChannelMarker};

use crate::error::{HandlerError, Outcome};
use crate::i18n::Lang;

/// What the handlers need to know about this deployment.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The Discord application whose commands and buttons these are.
    pub application_id: Id<ApplicationMarker>,
    /// Whether the gateway asked for the Message Content intent (`KAKUSAN_MIRROR`). Mirror mode
    /// needs it; envelopes do not (see `federation`).
    pub message_content: bool,
}

/// The shared context: one per process, held as `Arc<Context>` by every handler type. It holds
/// no state of any handler's; those own theirs.
pub(crate) struct Context {
    pub(crate) pool: PgPool,
    pub(crate) http: Arc<Client>,
    pub(crate) config: AppConfig,
}

/// How many messages one page of a channel's history holds (Discord's maximum).
const HISTORY_PAGE: u16 = 100;

/// How many messages of one channel a catch-up reads at most.
pub(crate) const CATCH_UP_LIMIT: usize = 1000;

/// The name kakusan gives the webhooks it creates.
pub(crate) const WEBHOOK_NAME: &str = "kakusan";

impl Context {
    /// This guild's server, or the refusal telling the member it is not set up.
    pub(crate) async fn local(&self, guild: u64, lang: Lang) -> Outcome<Local> {
        match servers::server(&self.pool, guild).await? {
            Some(server) => Ok(Local::load(server)),
            None => Err(HandlerError::refused(crate::tr!(lang, "not-set-up"))),
        }
    }

    /// Posts one line in the server's bot-com channel as the bot, pinging nobody; `line` is
    /// worded in the server's language ([`Local::lang`]). A failure is only logged: the
    /// line is a courtesy, the state is in the database.
    pub(crate) async fn botcom_line(&self, server: &Server, line: &str) {
        self.post_line(server.botcom_channel_id, line, "in the bot-com channel")
            .await;
    }

    /// Posts one line in `channel` as the bot, pinging nobody; a failure is only logged, as
    /// `could not post {where_}`.
    pub(crate) async fn post_line(&self, channel: u64, line: &str, where_: &str) {
        let Some(channel) = Id::new_checked(channel) else {
            return;
        };
        let line: String = line.chars().take(2000).collect();
        let none = AllowedMentions::default();
        let result = self
            .http
            .create_message(channel)
            .content(&line)
            .allowed_mentions(Some(&none))
            .await;
        if let Err(error) = result {
            tracing::warn!(error = %error, "could not post {where_}");
        }
    }

    /// Tells the member, in their times channel here, of each destination that receives their
    /// posts and that they have not heard of yet: once per destination (its `notified_at`), as
    /// soon as they have a times here to hear it in, whether the destination or the times came
    /// first. A failure is only logged; `/sharelist` always shows the destinations.
    pub(crate) async fn tell_of_destinations(&self, local: &Local, member_id: u64) {
        let guild = local.guild_id();
        let found = async {
            let Some(times) = times::times_of_member(&self.pool, guild, member_id).await? else {
                return Ok(None);
            };
            let destinations =
                destinations::destinations_of_member(&self.pool, guild, member_id).await?;
            Ok::<_, StorageError>(Some((times, destinations)))
        }
        .await;
        let (times, destinations) = match found {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "could not look up a member's times and destinations");
                return;
            }
        };
        for destination in destinations.iter().filter(|d| d.notified_at.is_none()) {
            match destinations::claim_notice(&self.pool, destination.id).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    tracing::warn!(%error, "could not note a destination's notice");
                    continue;
                }
            }
            let text = crate::tr!(
                local.lang(),
                "notice-new-destination",
                member = member_id,
                server = destination.peer_name.as_str()
            );
            self.post_line(
                times.channel_id,
                &text,
                "a member's notice of a new destination",
            )
            .await;
        }
    }

    /// Deletes a webhook kakusan no longer uses; a failure is only logged.
    pub(crate) async fn delete_webhook_quietly(&self, id: u64) {
        let Some(id) = Id::new_checked(id) else {
            return;
        };
        if let Err(error) = self.http.delete_webhook(id).await {
            tracing::warn!(%error, "could not delete a webhook kakusan no longer uses");
        }
    }

    /// The messages of `channel` after message `after`, oldest first, read page by page: at
    /// most [`CATCH_UP_LIMIT`] of them (the catch-up after a restart must not read a flooded
    /// channel for ever; the next catch-up goes on from where this one stopped). Stopping
    /// early is logged.
    pub(crate) async fn history_after(
        &self,
        channel: Id<ChannelMarker>,
        mut after: u64,
    ) -> anyhow::Result<Vec<Message>> {
        let mut history = Vec::new();
        loop {
            let mut page = self
                .http
                .channel_messages(channel)
                .after(Id::new_checked(after).context("a message id")?)
                .limit(HISTORY_PAGE)
                .await
                .with_context(|| format!("reading the history of channel {channel}"))?
                .models()
                .await
                .with_context(|| format!("reading the history of channel {channel}"))?;
            let last_page = page.len() < usize::from(HISTORY_PAGE);
            page.sort_by_key(|message| message.id);
            if let Some(newest) = page.last() {
                after = newest.id.get();
            }
            history.append(&mut page);
            if last_page {
                return Ok(history);
            }
            if history.len() >= CATCH_UP_LIMIT {
                tracing::warn!(
                    %channel,
                    read = history.len(),
                    "stopped reading the channel's history at the catch-up limit; the rest is read at the next start"
                );
                return Ok(history);
            }
        }
    }
}

/// A local server's identity, loaded from its row.
pub(crate) struct Local {
    pub(crate) server: Server,
    pub(crate) name: ServerName,
    pub(crate) keys: ServerKeys,
}

impl Local {
    /// The language of what kakusan writes here without a member's interaction (bot-com
    /// lines, notices in times channels): the guild's preferred locale, else English.
    pub(crate) fn lang(&self) -> Lang {
        Lang::negotiate(None, self.server.locale.as_deref())
    }

    pub(crate) fn load(server: Server) -> Self {
        let name = server.name.clone();
        let keys = ServerKeys::new(
            SigningSecret::from_seed(*server.signing_key.expose()),
            SealingSecret::from_bytes(*server.sealing_key.expose()),
        );
        Self { server, name, keys }
    }

    pub(crate) fn guild_id(&self) -> u64 {
        self.server.guild_id
    }
}
