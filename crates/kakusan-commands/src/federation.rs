//! The federation flows of SPEC §3: envelopes read from a bot-com channel and what each kind
//! does, and the envelopes kakusan sends (hello, sync, announce, withdraw, pong).
//!
//! **Reading envelopes without the Message Content intent.** Discord empties the content of
//! messages an app did not author unless it holds the privileged intent, and messages posted
//! through a webhook are not the app's own. So when an envelope arrives with empty content,
//! kakusan reads it back through its master webhook (`GET /webhooks/{id}/{token}/messages/{id}`),
//! which answers with the content to whoever holds the webhook's token. With `KAKUSAN_MIRROR`
//! set the content is already there and no call is made.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::Utc;
use kakusan_delivery::{
    EnvelopePayload, StoredReplayGuard, enqueue_envelope, webhook_parts, webhook_username,
};
use kakusan_protocol::rand_core::OsRng;
use kakusan_protocol::{
    Body, Card, Envelope, Hello, MAX_CLOCK_SKEW, Registration, SealedSecret, SealingSecret,
    ServerKeys, ServerName, SigningSecret, Snowflake, TimesWithdraw, Ttl, VerifiedEnvelope,
    Verifier, VerifyError, VerifyKey, WebhookPolicy, WebhookUrl, split_sync,
};
use kakusan_storage::destinations::{self, Announced};
use kakusan_storage::peers::{self, Peer, PeerCard};
use kakusan_storage::servers::{self, Server};
use kakusan_storage::{PgConnection, PublicKey, SecretString, seen, times};
use twilight_model::channel::Message;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

use crate::app::{App, is_unavailable, through_outage};
use crate::component;

/// A local server's identity, loaded from its row.
pub(crate) struct Local {
    pub(crate) server: Server,
    pub(crate) name: ServerName,
    pub(crate) keys: ServerKeys,
}

impl Local {
    pub(crate) fn load(server: Server) -> anyhow::Result<Self> {
        let name = ServerName::parse(&server.name).context("the stored server name")?;
        let keys = ServerKeys::new(
            SigningSecret::from_seed(*server.signing_key.expose()),
            SealingSecret::from_bytes(*server.sealing_key.expose()),
        );
        Ok(Self { server, name, keys })
    }

    fn guild_id(&self) -> u64 {
        self.server.guild_id
    }
}

/// Why an envelope that passed the protocol's checks is still refused by the flows.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("{0} sent {1} but is not a mutual peer; only mutual peers may share times")]
    NotMutual(String, &'static str),
    #[error(
        "a hello claims to be {0} (guild {1}) but is signed with another key than the registered one"
    )]
    KeyMismatch(String, u64),
    #[error("{0}'s hello carries a card for another name or guild")]
    CardMismatch(String),
    #[error("{0} sent a webhook that cannot be used: {1}")]
    BadWebhook(String, String),
    #[error("{0} sent a sync that cannot be assembled: {1}")]
    BadSync(String, String),
    #[error("the name {0} is already used by another peer of this server")]
    NameTaken(String),
}

impl Refusal {
    fn label(&self) -> &'static str {
        match self {
            Refusal::NotMutual(..) => "not_mutual",
            Refusal::KeyMismatch(..) => "key_mismatch",
            Refusal::CardMismatch(..) => "bad_card",
            Refusal::BadWebhook(..) => "bad_webhook",
            Refusal::BadSync(..) => "bad_sync",
            Refusal::NameTaken(..) => "name_taken",
        }
    }
}

/// How many messages one page of a bot-com channel's history holds (Discord's maximum).
const HISTORY_PAGE: u16 = 100;

impl App {
    /// Reads, for every server in `guilds` (those of the shard that became READY), the
    /// envelopes that arrived in its bot-com channel while no session was connected (Discord
    /// does not send those events again). Runs at READY, before any message event of the new
    /// session; a failure is logged and the session goes on.
    pub(crate) async fn catch_up(&self, guilds: &[u64]) {
        let servers = match servers::list_servers(&self.pool).await {
            Ok(servers) => servers,
            Err(error) => {
                tracing::warn!(%error, "could not look for envelopes that arrived while away");
                return;
            }
        };
        for server in servers {
            if !guilds.contains(&server.guild_id) {
                continue;
            }
            let name = server.name.clone();
            match self.catch_up_server(server).await {
                Ok(0) => {}
                Ok(read) => {
                    tracing::info!(server = %name, read, "read envelopes that arrived while away")
                }
                Err(error) => tracing::warn!(
                    server = %name,
                    "could not read the envelopes that arrived while away: {error:#}"
                ),
            }
        }
    }

    async fn catch_up_server(&self, server: Server) -> anyhow::Result<usize> {
        let channel = Id::new_checked(server.botcom_channel_id).context("a stored channel id")?;
        let after = server
            .envelopes_read_until
            .unwrap_or(server.master_webhook_id);
        let history = self.history_after(channel, after).await?;
        // What the timestamp check would refuse anyway is passed over quietly rather than
        // reported line by line (the first catch-up after an upgrade reads from /setup on).
        let oldest = Utc::now().timestamp() - MAX_CLOCK_SKEW.num_seconds();
        let mut read = 0;
        for message in &history {
            if message.webhook_id.map(Id::get) == Some(server.master_webhook_id)
                && message.timestamp.as_secs() >= oldest
            {
                through_outage(|| self.envelope_message(server.clone(), message)).await?;
                read += 1;
            }
        }
        if let Some(newest) = history.last() {
            servers::advance_envelope_cursor(&self.pool, server.guild_id, newest.id.get()).await?;
        }
        Ok(read)
    }

    /// Every message of `channel` after message `after`, oldest first, read page by page.
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
        }
    }

    /// A message from our master webhook in a bot-com channel: verify it, apply it, and mark
    /// the channel read up to it.
    pub(crate) async fn envelope_message(
        &self,
        server: Server,
        message: &Message,
    ) -> anyhow::Result<()> {
        let guild = server.guild_id;
        self.receive_envelope(server, message).await?;
        // Not fatal: at worst the next catch-up reads the message again and the replay check
        // refuses it.
        if let Err(error) =
            servers::advance_envelope_cursor(&self.pool, guild, message.id.get()).await
        {
            tracing::warn!(%error, "could not mark the bot-com channel read");
        }
        Ok(())
    }

    async fn receive_envelope(&self, server: Server, message: &Message) -> anyhow::Result<()> {
        let content = if message.content.is_empty() {
            self.read_through_master_webhook(&server, message).await?
        } else {
            message.content.clone()
        };
        let local = Local::load(server)?;
        let earlier = self
            .unfinished
            .lock()
            .expect("unfinished map poisoned")
            .remove(&message.id.get());
        if let Some((guild, id)) = earlier
            && let Err(error) = seen::forget_seen_envelope(&self.pool, guild, &id).await
        {
            self.unfinished
                .lock()
                .expect("unfinished map poisoned")
                .insert(message.id.get(), (guild, id));
            return Err(error.into());
        }
        let known = peers::list_peers(&self.pool, local.guild_id()).await?;
        let keys: HashMap<ServerName, VerifyKey> = known
            .iter()
            .filter_map(|peer| {
                let name = ServerName::parse(&peer.name).ok()?;
                Some((name, VerifyKey::from_bytes(peer.verify_key.0).ok()?))
            })
            .collect();
        let guard = StoredReplayGuard::new(self.pool.clone(), local.guild_id());
        let verifier = Verifier::new(&local.name, local.keys.sealing(), &keys, &guard);
        let verified = match verifier.verify(&content, Utc::now()).await {
            Ok(verified) => verified,
            Err(VerifyError::Rejected(rejection)) => {
                self.reject(&local, rejection.as_str(), &rejection.to_string())
                    .await;
                return Ok(());
            }
            Err(error @ VerifyError::ReplayGuard(_)) => {
                return Err(error).context("checking the envelope against replays");
            }
        };
        let kind = verified.envelope().kind().as_str();
        metrics::counter!("kakusan_envelopes_received_total", "kind" => kind).increment(1);
        tracing::info!(src = %verified.envelope().src(), kind, "envelope accepted");
        let id = verified.envelope().id().to_string();
        match self.apply(&local, verified).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(refusal)) => {
                self.reject(&local, refusal.label(), &refusal.to_string())
                    .await;
                Ok(())
            }
            Err(error) => {
                if is_unavailable(&error) {
                    self.unfinished
                        .lock()
                        .expect("unfinished map poisoned")
                        .insert(message.id.get(), (local.guild_id(), id));
                }
                Err(error)
            }
        }
    }

    async fn read_through_master_webhook(
        &self,
        server: &Server,
        message: &Message,
    ) -> anyhow::Result<String> {
        let webhook = Id::new_checked(server.master_webhook_id).context("master webhook id")?;
        let full = self
            .http
            .webhook_message(webhook, server.master_webhook_token.expose(), message.id)
            .await
            .context("reading an envelope through the master webhook")?
            .model()
            .await
            .context("reading an envelope through the master webhook")?;
        Ok(full.content)
    }

    /// Counts, logs and reports a refused envelope; it changed nothing.
    async fn reject(&self, local: &Local, label: &'static str, reason: &str) {
        metrics::counter!("kakusan_envelopes_rejected_total", "reason" => label).increment(1);
        tracing::warn!(server = %local.name, reason = label, "envelope rejected: {reason}");
        self.botcom_line(&local.server, &format!("Envelope check: {reason}."))
            .await;
    }

    /// Posts one line in the server's bot-com channel as the bot, pinging nobody. A failure is
    /// only logged: the line is a courtesy, the state is in the database.
    pub(crate) async fn botcom_line(&self, server: &Server, line: &str) {
        let Some(channel) = Id::new_checked(server.botcom_channel_id) else {
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
            tracing::warn!(error = %error, "could not post in the bot-com channel");
        }
    }

    /// What a verified envelope does. `Ok(Err(_))` is a refusal (reported, nothing changed);
    /// `Err(_)` is a failure of ours (the database, say).
    async fn apply(
        &self,
        local: &Local,
        verified: VerifiedEnvelope,
    ) -> anyhow::Result<Result<(), Refusal>> {
        let reply_ttl = verified.reply_ttl();
        let (envelope, sender) = verified.into_parts();
        let src = envelope.src().clone();
        if let kakusan_protocol::Sender::Unregistered(card) = sender {
            // Only a hello gets here without a known key: the verifier checked its card.
            return self.hello(local, *card).await;
        }
        let Some(peer) = peers::peer_by_name(&self.pool, local.guild_id(), src.as_str()).await?
        else {
            // Removed between the verification and now.
            return Ok(Ok(()));
        };
        peers::touch_peer(&self.pool, peer.id).await?;
        match envelope.into_body() {
            Body::PeerHello(hello) => {
                let card = match hello.open(local.keys.sealing(), &WebhookPolicy::discord()) {
                    Ok(card) if card.name() == &src => card,
                    _ => return Ok(Err(Refusal::CardMismatch(src.to_string()))),
                };
                self.hello(local, card).await
            }
            Body::PeerBye => {
                peers::record_bye(&self.pool, peer.id).await?;
                self.forget_sync(local, &src);
                self.botcom_line(
                    &local.server,
                    &format!("{src} said goodbye; what it had shared is forgotten."),
                )
                .await;
                Ok(Ok(()))
            }
            Body::TimesAnnounce(registration) => {
                if !peer.mutual {
                    return Ok(Err(Refusal::NotMutual(src.to_string(), "times.announce")));
                }
                let Some(hook) = self.open_hook(local, &src, &registration.hook)? else {
                    return Ok(Err(Refusal::BadWebhook(
                        src.to_string(),
                        "it does not open".into(),
                    )));
                };
                let opened = Opened::new(&registration, &hook);
                destinations::announce(&self.pool, peer.id, &opened.announced(), None).await?;
                Ok(Ok(()))
            }
            Body::TimesWithdraw(TimesWithdraw { member }) => {
                destinations::withdraw(&self.pool, peer.id, member.get()).await?;
                Ok(Ok(()))
            }
            Body::TimesSync(chunk) => {
                if !peer.mutual {
                    return Ok(Err(Refusal::NotMutual(src.to_string(), "times.sync")));
                }
                let sync_id = chunk.sync_id().to_string();
                let complete = {
                    let mut syncs = self.syncs.lock().expect("sync map poisoned");
                    syncs
                        .entry(local.guild_id())
                        .or_default()
                        .accept(&src, chunk)
                };
                match complete {
                    Err(error) => Ok(Err(Refusal::BadSync(src.to_string(), error.to_string()))),
                    Ok(None) => Ok(Ok(())),
                    Ok(Some(registrations)) => {
                        self.store_sync(local, &peer, &src, &sync_id, &registrations)
                            .await
                    }
                }
            }
            Body::Ping(ping) => {
                if let Some(ttl) = reply_ttl {
                    let pong = Body::Pong(ping.answer(Utc::now()));
                    let mut connection = self.pool.acquire().await?;
                    self.send_envelope(&mut connection, local, &peer, pong, Some(ttl))
                        .await?;
                }
                Ok(Ok(()))
            }
            Body::Pong(pong) => {
                let waiter = self
                    .pings
                    .lock()
                    .expect("ping map poisoned")
                    .remove(&(local.guild_id(), pong.nonce));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(Utc::now());
                }
                Ok(Ok(()))
            }
            Body::Log(line) => {
                self.botcom_line(&local.server, &format!("[{src}] {}", line.as_str()))
                    .await;
                Ok(Ok(()))
            }
        }
    }

    fn forget_sync(&self, local: &Local, src: &ServerName) {
        if let Some(assembler) = self
            .syncs
            .lock()
            .expect("sync map poisoned")
            .get_mut(&local.guild_id())
        {
            assembler.forget(src);
        }
    }

    /// Opens a sealed webhook URL; `None` when it does not open or is not a webhook we accept.
    fn open_hook(
        &self,
        local: &Local,
        src: &ServerName,
        sealed: &SealedSecret,
    ) -> anyhow::Result<Option<WebhookUrl>> {
        match sealed.open_webhook(local.keys.sealing(), &WebhookPolicy::discord()) {
            Ok(url) => Ok(Some(url)),
            Err(error) => {
                tracing::warn!(%src, %error, "a sealed webhook did not open");
                Ok(None)
            }
        }
    }

    async fn store_sync(
        &self,
        local: &Local,
        peer: &Peer,
        src: &ServerName,
        sync_id: &str,
        registrations: &[Registration],
    ) -> anyhow::Result<Result<(), Refusal>> {
        let mut opened = Vec::with_capacity(registrations.len());
        for registration in registrations {
            let Some(hook) = self.open_hook(local, src, &registration.hook)? else {
                return Ok(Err(Refusal::BadWebhook(
                    src.to_string(),
                    format!(
                        "the sync's webhook for member {} does not open",
                        registration.member
                    ),
                )));
            };
            opened.push(Opened::new(registration, &hook));
        }
        // All or nothing: a sync replaces what the peer said before.
        let mut transaction = self.pool.begin().await?;
        for times in &opened {
            destinations::announce(
                &mut *transaction,
                peer.id,
                &times.announced(),
                Some(sync_id),
            )
            .await?;
        }
        let gone = destinations::finish_sync(&mut *transaction, peer.id, sync_id).await?;
        transaction.commit().await?;
        tracing::info!(%src, times = opened.len(), gone, "sync stored");
        Ok(Ok(()))
    }

    /// A verified hello (from a registered peer or a newcomer): record it, then sync if the
    /// pair is mutual, or ask our admins to accept it.
    async fn hello(&self, local: &Local, card: Card) -> anyhow::Result<Result<(), Refusal>> {
        let name = card.name().to_string();
        let guild = card.guild_id().get();
        if let Some(known) = peers::peer_by_guild(&self.pool, local.guild_id(), guild).await?
            && known.registered_at.is_some()
            && known.verify_key.0 != card.verify_key().to_bytes()
        {
            return Ok(Err(Refusal::KeyMismatch(name, guild)));
        }
        if let Some(other) = peers::peer_by_name(&self.pool, local.guild_id(), &name).await?
            && other.guild_id != guild
        {
            return Ok(Err(Refusal::NameTaken(name)));
        }
        let mut transaction = self.pool.begin().await?;
        let peer =
            peers::record_hello(&mut *transaction, local.guild_id(), &peer_card(&card)).await?;
        if peer.mutual {
            self.enqueue_sync(&mut transaction, local, &peer).await?;
        }
        transaction.commit().await?;
        if peer.mutual {
            self.botcom_line(
                &local.server,
                &format!("{name} is a mutual peer; our times were sent to it."),
            )
            .await;
        } else {
            self.approval_request(local, &peer, &card).await;
        }
        Ok(Ok(()))
    }

    /// The approval request for a hello from a server our admins have not registered. The
    /// card itself is not shown: it carries the sender's master webhook URL.
    async fn approval_request(&self, local: &Local, peer: &Peer, card: &Card) {
        let Some(channel) = Id::new_checked(local.server.botcom_channel_id) else {
            return;
        };
        let text = format!(
            "**{}** (guild {}, key {}) registered this server and asks to be accepted. \
             Someone with Manage Server can press Accept, or run /regserver with its card.",
            card.name(),
            card.guild_id(),
            fingerprint(&card.verify_key()),
        );
        let rows = component::rows(vec![component::accept_button(peer.id)]);
        let none = AllowedMentions::default();
        if let Err(error) = self
            .http
            .create_message(channel)
            .content(&text)
            .components(&rows)
            .allowed_mentions(Some(&none))
            .await
        {
            tracing::warn!(%error, "could not post the approval request");
        }
    }

    /// Queues `body` for `peer`, signed by `local`, in the caller's transaction.
    pub(crate) async fn send_envelope(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
        body: Body,
        ttl: Option<Ttl>,
    ) -> anyhow::Result<()> {
        let dst = ServerName::parse(&peer.name).context("the stored peer name")?;
        let mut envelope = Envelope::new(local.name.clone(), dst, body, Utc::now(), &mut OsRng);
        if let Some(ttl) = ttl {
            envelope = envelope.with_ttl(ttl);
        }
        let text = envelope
            .sign(local.keys.signing())
            .context("signing an envelope")?;
        let payload = EnvelopePayload {
            content: text.into_string(),
            username: webhook_username("kakusan", &local.server.name),
        };
        let (webhook_id, _) =
            webhook_parts(peer.webhook_url.expose()).context("a stored peer webhook URL")?;
        enqueue_envelope(connection, local.guild_id(), peer.id, webhook_id, &payload).await?;
        Ok(())
    }

    /// Queues our card, sealed to the peer, as a `peer.hello`.
    pub(crate) async fn send_hello(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
    ) -> anyhow::Result<()> {
        let card = self.card(local)?;
        let sealing = kakusan_protocol::SealingKey::from_bytes(peer.sealing_key.0)
            .context("the stored sealing key of a peer")?;
        let hello = Hello::seal(&card, &sealing, &mut OsRng).context("sealing our card")?;
        self.send_envelope(connection, local, peer, Body::PeerHello(hello), None)
            .await
    }

    /// Queues every times of our server, sealed to the peer, as a chunked `times.sync`.
    pub(crate) async fn enqueue_sync(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
    ) -> anyhow::Result<()> {
        let sealing = kakusan_protocol::SealingKey::from_bytes(peer.sealing_key.0)
            .context("the stored sealing key of a peer")?;
        let mut registrations = Vec::new();
        for times in times::list_times(&mut *connection, local.guild_id()).await? {
            if times.broken_reason.is_none() {
                registrations.push(self.registration(&times, &sealing)?);
            }
        }
        let dst = ServerName::parse(&peer.name).context("the stored peer name")?;
        let chunks = split_sync(
            &local.name,
            &dst,
            &registrations,
            Utc::now(),
            local.keys.signing(),
            &mut OsRng,
        )
        .context("splitting a sync")?;
        let (webhook_id, _) =
            webhook_parts(peer.webhook_url.expose()).context("a stored peer webhook URL")?;
        let username = webhook_username("kakusan", &local.server.name);
        for chunk in chunks {
            let payload = EnvelopePayload {
                content: chunk.into_string(),
                username: username.clone(),
            };
            enqueue_envelope(connection, local.guild_id(), peer.id, webhook_id, &payload).await?;
        }
        Ok(())
    }

    /// One times as a registration for a peer: its webhook sealed to that peer.
    pub(crate) fn registration(
        &self,
        times: &times::Times,
        sealing: &kakusan_protocol::SealingKey,
    ) -> anyhow::Result<Registration> {
        let url = self.webhook_url(times.webhook_id, &times.webhook_token)?;
        Ok(Registration {
            member: Snowflake::new(times.member_id)?,
            name: kakusan_protocol::DisplayName::parse(&times.member_name)
                .or_else(|_| kakusan_protocol::DisplayName::parse("member"))?,
            channel: Snowflake::new(times.channel_id)?,
            hook: SealedSecret::seal_webhook(sealing, &url, &mut OsRng)?,
        })
    }

    /// The URL of one of our webhooks as peers get it: in Discord's own form, whatever
    /// `KAKUSAN_DISCORD_API` this deployment reaches Discord through (a proxy's private
    /// address would mean nothing to a peer).
    pub(crate) fn webhook_url(&self, id: u64, token: &SecretString) -> anyhow::Result<WebhookUrl> {
        WebhookUrl::discord(Snowflake::new(id)?, token.expose())
            .context("a stored webhook is not a Discord webhook")
    }

    /// Our server's card.
    pub(crate) fn card(&self, local: &Local) -> anyhow::Result<Card> {
        Ok(Card::new(
            local.name.clone(),
            Snowflake::new(local.guild_id())?,
            self.webhook_url(
                local.server.master_webhook_id,
                &local.server.master_webhook_token,
            )?,
            local.keys.verify_key(),
            local.keys.sealing_key(),
        ))
    }
}

/// The storage form of a card.
pub(crate) fn peer_card(card: &Card) -> PeerCard<'_> {
    PeerCard {
        name: card.name().as_str(),
        guild_id: card.guild_id().get(),
        webhook_url: SecretString::new(card.webhook().expose()),
        verify_key: PublicKey(card.verify_key().to_bytes()),
        sealing_key: PublicKey(card.sealing_key().to_bytes()),
    }
}

/// A peer's announced times, with the webhook opened from it, ready to store.
struct Opened<'a> {
    registration: &'a Registration,
    webhook_id: u64,
    token: SecretString,
}

impl<'a> Opened<'a> {
    fn new(registration: &'a Registration, hook: &WebhookUrl) -> Self {
        // A parsed webhook URL always has its parts.
        let token = webhook_parts(hook.expose()).map_or("", |(_, token)| token);
        Self {
            registration,
            webhook_id: hook.id().get(),
            token: SecretString::new(token),
        }
    }

    fn announced(&self) -> Announced<'_> {
        Announced {
            member_id: self.registration.member.get(),
            member_name: self.registration.name.as_str(),
            channel_id: self.registration.channel.get(),
            webhook_id: self.webhook_id,
            webhook_token: &self.token,
        }
    }
}

/// A short, stable rendering of a verify key for people to compare.
pub(crate) fn fingerprint(key: &VerifyKey) -> String {
    key.to_base64().chars().take(12).collect()
}
