//! Envelopes read from a bot-com channel: received, verified, and applied kind by kind.
//!
//! **Reading envelopes without the Message Content intent.** Discord empties the content of
//! messages an app did not author unless it holds the privileged intent, and messages posted
//! through a webhook are not the app's own. So when an envelope arrives with empty content,
//! kakusan reads it back through its master webhook (`GET /webhooks/{id}/{token}/messages/{id}`),
//! which answers with the content to whoever holds the webhook's token. With `KAKUSAN_MIRROR`
//! set the content is already there and no call is made.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use chrono::Utc;
use kakusan_delivery::{StoredReplayGuard, is_unknown_webhook};
use kakusan_protocol::{
    Body, Card, Registration, SealedSecret, SealingSecret, ServerName, SyncAssembler,
    TimesWithdraw, Ttl, VerifiedEnvelope, Verifier, VerifyError, VerifyKey, WebhookPolicy,
    WebhookUrl,
};
use kakusan_storage::destinations::{self, Announced};
use kakusan_storage::peers::{self, Peer, PeerCard};
use kakusan_storage::requests;
use kakusan_storage::servers::{self, Server};
use kakusan_storage::{PublicKey, SecretString, StorageError, seen};
use twilight_model::channel::Message;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::id::Id;

use super::outbound::Outbound;
use crate::answers::{Answer, Answers, Awaited};
use crate::component;
use crate::context::{Context, Local};
use crate::error::{HandlerError, Outcome};
use crate::forget::Forgets;

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
    #[error("{0} announced a webhook that is not in its own guild; it is not used")]
    ForeignWebhook(String),
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
            Refusal::ForeignWebhook(..) => "foreign_webhook",
            Refusal::BadSync(..) => "bad_sync",
            Refusal::NameTaken(..) => "name_taken",
        }
    }
}

/// Who signed a verified hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    /// The sender is not registered: the hello was verified with the key in its own card.
    OwnCard,
    /// The sender is registered: the hello was verified with the key we have for it.
    RegisteredKey {
        /// Whether its card was sealed to our current sealing key (not the previous one).
        sealed_to_current: bool,
    },
}

/// How often a peer's hellos are answered with a sync at most.
const HELLO_SYNC_WINDOW: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// What stops a verified envelope: a refusal of the flows (reported in the bot-com channel,
/// nothing changed), or a failure of ours.
#[derive(Debug, thiserror::Error)]
enum InboundError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Failed(#[from] HandlerError),
}

impl From<StorageError> for InboundError {
    fn from(error: StorageError) -> Self {
        InboundError::Failed(error.into())
    }
}

impl From<kakusan_storage::SqlError> for InboundError {
    fn from(error: kakusan_storage::SqlError) -> Self {
        InboundError::Failed(error.into())
    }
}

impl From<anyhow::Error> for InboundError {
    fn from(error: anyhow::Error) -> Self {
        InboundError::Failed(error.into())
    }
}

/// The receiving side of the federation, with the state it keeps between envelopes.
pub(crate) struct Inbound {
    pub(super) ctx: Arc<Context>,
    outbound: Outbound,
    answers: Arc<Answers>,
    forgets: Arc<Forgets>,
    /// Partial `times.sync`s, by the peer's row id (not its name, which a hello may change
    /// between chunks). In memory by design: a restart in the middle of a sync only means the
    /// peer's next sync (on its next hello) replaces it.
    syncs: Mutex<HashMap<i64, SyncAssembler>>,
    /// Envelopes whose id was recorded as seen but whose effect could not be stored (the
    /// database went away in between), by message id: their id is forgotten before they are
    /// checked again, or the retry would look like a replay.
    unfinished: Mutex<HashMap<u64, (u64, String)>>,
    /// Announced webhooks this process found in their peer's guild, by peer row id and webhook
    /// id: a sync repeats every registration, and each need not cost a Discord call again.
    /// In memory by design: after a restart each is checked once more.
    checked_webhooks: Mutex<HashSet<(i64, u64)>>,
}

impl Inbound {
    pub(crate) fn new(
        ctx: Arc<Context>,
        outbound: Outbound,
        answers: Arc<Answers>,
        forgets: Arc<Forgets>,
    ) -> Self {
        Self {
            ctx,
            outbound,
            answers,
            forgets,
            syncs: Mutex::default(),
            unfinished: Mutex::default(),
            checked_webhooks: Mutex::default(),
        }
    }

    /// Forgets what a sync from the peer with row id `peer_id` had assembled so far (the peer
    /// was removed or said goodbye).
    pub(crate) fn forget_sync(&self, peer_id: i64) {
        self.sync_map().remove(&peer_id);
    }

    fn sync_map(&self) -> std::sync::MutexGuard<'_, HashMap<i64, SyncAssembler>> {
        self.syncs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn checked_map(&self) -> std::sync::MutexGuard<'_, HashSet<(i64, u64)>> {
        self.checked_webhooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn unfinished_map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (u64, String)>> {
        self.unfinished
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A message from our master webhook in a bot-com channel: verify it, apply it, and mark
    /// the channel read up to it.
    pub(crate) async fn envelope_message(&self, server: Server, message: &Message) -> Outcome<()> {
        let guild = server.guild_id;
        self.receive_envelope(server, message).await?;
        // Not fatal: at worst the next catch-up reads the message again and the replay check
        // refuses it.
        if let Err(error) =
            servers::advance_envelope_cursor(&self.ctx.pool, guild, message.id.get()).await
        {
            tracing::warn!(%error, "could not mark the bot-com channel read");
        }
        Ok(())
    }

    async fn receive_envelope(&self, server: Server, message: &Message) -> Outcome<()> {
        let content = if message.content.is_empty() {
            self.read_through_master_webhook(&server, message).await?
        } else {
            message.content.clone()
        };
        let local = Local::load(server);
        let earlier = self.unfinished_map().remove(&message.id.get());
        if let Some((guild, id)) = earlier
            && let Err(error) = seen::forget_seen_envelope(&self.ctx.pool, guild, &id).await
        {
            self.unfinished_map().insert(message.id.get(), (guild, id));
            return Err(error.into());
        }
        let known = peers::list_peers(&self.ctx.pool, local.guild_id()).await?;
        // Only registered peers are senders: a server that has only said hello can send
        // nothing but hellos (which carry their own key), so anything else from it is
        // `unknown_src`.
        let keys: HashMap<ServerName, VerifyKey> = known
            .iter()
            .filter(|peer| peer.registered_at.is_some())
            .filter_map(|peer| {
                Some((
                    peer.name.clone(),
                    VerifyKey::from_bytes(peer.verify_key.0).ok()?,
                ))
            })
            .collect();
        let guard = StoredReplayGuard::new(self.ctx.pool.clone(), local.guild_id());
        let verifier = Verifier::new(&local.name, local.keys.sealing(), &keys, &guard);
        let verified = match verifier.verify(&content, Utc::now()).await {
            Ok(verified) => verified,
            Err(VerifyError::Rejected(rejection)) => {
                self.reject(&local, rejection.as_str(), &rejection.to_string())
                    .await;
                return Ok(());
            }
            Err(error @ VerifyError::ReplayGuard(_)) => {
                return Err(anyhow::Error::new(error)
                    .context("checking the envelope against replays")
                    .into());
            }
        };
        let kind = verified.envelope().kind().as_str();
        metrics::counter!("kakusan_envelopes_received_total", "kind" => kind).increment(1);
        tracing::info!(src = %verified.envelope().src(), kind, "envelope accepted");
        let id = verified.envelope().id().to_string();
        match self.apply(&local, verified).await {
            Ok(()) => Ok(()),
            Err(InboundError::Refused(refusal)) => {
                self.reject(&local, refusal.label(), &refusal.to_string())
                    .await;
                Ok(())
            }
            Err(InboundError::Failed(error)) => {
                if error.is_unavailable() {
                    self.unfinished_map()
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
    ) -> Outcome<String> {
        let webhook = Id::new_checked(server.master_webhook_id).context("master webhook id")?;
        let full = self
            .ctx
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
        let line = crate::tr!(
            local.lang(),
            "botcom-envelope-rejected",
            label = label,
            reason = reason
        );
        self.ctx.botcom_line(&local.server, &line).await;
    }

    /// What a verified envelope does.
    async fn apply(&self, local: &Local, verified: VerifiedEnvelope) -> Result<(), InboundError> {
        let reply_ttl = verified.reply_ttl();
        let (envelope, sender) = verified.into_parts();
        let src = envelope.src().clone();
        if let kakusan_protocol::Sender::Unregistered(card) = sender {
            // Only a hello gets here without a known key: the verifier checked its card.
            return self.hello(local, *card, reply_ttl, Signer::OwnCard).await;
        }
        let Some(peer) =
            peers::peer_by_name(&self.ctx.pool, local.guild_id(), src.as_str()).await?
        else {
            // Removed between the verification and now.
            return Ok(());
        };
        peers::touch_peer(&self.ctx.pool, peer.id).await?;
        match envelope.into_body() {
            Body::PeerHello(hello) => {
                // Sealed to our current key, or (a peer that has not yet heard of our key
                // rotation) to the previous one, kept until every peer has confirmed.
                let previous = local
                    .server
                    .previous_sealing_key
                    .0
                    .as_ref()
                    .map(|key| SealingSecret::from_bytes(*key.expose()));
                let policy = WebhookPolicy::discord();
                let (opened, sealed_to_current) = match hello.open(local.keys.sealing(), &policy) {
                    Ok(card) => (Some(card), true),
                    Err(_) => (
                        previous.and_then(|key| hello.open(&key, &policy).ok()),
                        false,
                    ),
                };
                let card = match opened {
                    Some(card) if card.name() == &src && card.guild_id().get() == peer.guild_id => {
                        card
                    }
                    _ => return Err(Refusal::CardMismatch(src.to_string()).into()),
                };
                self.hello(
                    local,
                    card,
                    reply_ttl,
                    Signer::RegisteredKey { sealed_to_current },
                )
                .await
            }
            Body::PeerBye => {
                peers::record_bye(&self.ctx.pool, peer.id).await?;
                self.forget_sync(peer.id);
                let line = crate::tr!(local.lang(), "botcom-bye", name = src.as_str());
                self.ctx.botcom_line(&local.server, &line).await;
                Ok(())
            }
            Body::TimesAnnounce(registration) => {
                if !peer.mutual {
                    return Err(Refusal::NotMutual(src.to_string(), "times.announce").into());
                }
                let Some(hook) = self.open_hook(local, &src, &registration.hook) else {
                    return Err(
                        Refusal::BadWebhook(src.to_string(), "it does not open".into()).into(),
                    );
                };
                self.check_webhook(&peer, &hook).await?;
                let opened = Opened::new(&registration, &hook);
                destinations::announce(&self.ctx.pool, peer.id, &opened.announced(), None).await?;
                self.ctx
                    .tell_of_destinations(local, registration.member.get())
                    .await;
                Ok(())
            }
            Body::TimesWithdraw(TimesWithdraw { member }) => {
                destinations::withdraw(&self.ctx.pool, peer.id, member.get()).await?;
                Ok(())
            }
            Body::TimesSync(chunk) => {
                if !peer.mutual {
                    return Err(Refusal::NotMutual(src.to_string(), "times.sync").into());
                }
                let sync_id = chunk.sync_id().to_string();
                let complete = self
                    .sync_map()
                    .entry(peer.id)
                    .or_default()
                    .accept(&src, chunk);
                match complete {
                    Err(error) => Err(Refusal::BadSync(src.to_string(), error.to_string()).into()),
                    Ok(None) => Ok(()),
                    Ok(Some(registrations)) => {
                        self.store_sync(local, &peer, &src, &sync_id, &registrations)
                            .await
                    }
                }
            }
            Body::Ping(ping) => {
                if let Some(ttl) = reply_ttl {
                    let pong = Body::Pong(ping.answer(Utc::now()));
                    let mut connection = self.ctx.pool.acquire().await?;
                    self.outbound
                        .send_envelope(&mut connection, local, &peer, pong, Some(ttl))
                        .await?;
                }
                Ok(())
            }
            Body::Pong(pong) => {
                let awaited = Awaited::Pong {
                    guild: local.guild_id(),
                    nonce: pong.nonce.to_string(),
                };
                let answer = Answer::Pong { at: Utc::now() };
                Ok(self.answers.announce(awaited, answer).await?)
            }
            Body::Log(line) => {
                self.ctx
                    .botcom_line(&local.server, &format!("[{src}] {}", line.as_str()))
                    .await;
                Ok(())
            }
            // What a peer may make us forget is what concerns it alone (see `forget.rs`).
            Body::MemberForget(request) => {
                if !peer.mutual {
                    return Err(Refusal::NotMutual(src.to_string(), "member.forget").into());
                }
                Ok(self
                    .forgets
                    .requested(local, &peer, &request, reply_ttl)
                    .await?)
            }
            Body::MemberForgotten(answer) => Ok(self.forgets.answered(&peer, &answer).await?),
        }
    }

    /// Asks Discord whether an announced webhook exists and belongs to the announcing peer's
    /// guild, before anything is relayed through it: a peer must not point our members' posts
    /// into our own bot-com channel, or into a third server's times.
    async fn check_webhook(&self, peer: &Peer, hook: &WebhookUrl) -> Result<(), InboundError> {
        let key = (peer.id, hook.id().get());
        if self.checked_map().contains(&key) {
            return Ok(());
        }
        let result = self
            .ctx
            .http
            .webhook(Id::new(hook.id().get()))
            .token(hook.token())
            .await;
        let webhook = match result {
            Ok(response) => response
                .model()
                .await
                .context("reading an announced webhook")?,
            Err(error) if is_unknown_webhook(&error) => {
                return Err(
                    Refusal::BadWebhook(peer.name.to_string(), "it does not exist".into()).into(),
                );
            }
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context("checking an announced webhook with Discord")
                    .into());
            }
        };
        if webhook.guild_id.map(|guild| guild.get()) == Some(peer.guild_id) {
            self.checked_map().insert(key);
            Ok(())
        } else {
            Err(Refusal::ForeignWebhook(peer.name.to_string()).into())
        }
    }

    /// Opens a sealed webhook URL; `None` when it does not open or is not a webhook we accept.
    fn open_hook(
        &self,
        local: &Local,
        src: &ServerName,
        sealed: &SealedSecret,
    ) -> Option<WebhookUrl> {
        let policy = WebhookPolicy::discord();
        match sealed.open_webhook(local.keys.sealing(), &policy) {
            Ok(url) => Some(url),
            Err(error) => {
                // A peer that has not yet heard of our key rotation sealed it to the previous
                // key, which is kept until every peer has confirmed the new one.
                let previous = local
                    .server
                    .previous_sealing_key
                    .0
                    .as_ref()
                    .and_then(|key| {
                        sealed
                            .open_webhook(&SealingSecret::from_bytes(*key.expose()), &policy)
                            .ok()
                    });
                if previous.is_none() {
                    tracing::warn!(%src, %error, "a sealed webhook did not open");
                }
                previous
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
    ) -> Result<(), InboundError> {
        let mut opened = Vec::with_capacity(registrations.len());
        for registration in registrations {
            let Some(hook) = self.open_hook(local, src, &registration.hook) else {
                return Err(Refusal::BadWebhook(
                    src.to_string(),
                    format!(
                        "the sync's webhook for member {} does not open",
                        registration.member
                    ),
                )
                .into());
            };
            self.check_webhook(peer, &hook).await?;
            opened.push(Opened::new(registration, &hook));
        }
        // All or nothing: a sync replaces what the peer said before.
        let mut transaction = self.ctx.pool.begin().await?;
        let mut stored = Vec::with_capacity(opened.len());
        for times in &opened {
            destinations::announce(
                &mut *transaction,
                peer.id,
                &times.announced(),
                Some(sync_id),
            )
            .await?;
            stored.push(times.registration.member.get());
        }
        let gone = destinations::finish_sync(&mut *transaction, peer.id, sync_id).await?;
        transaction.commit().await?;
        for member in stored {
            self.ctx.tell_of_destinations(local, member).await;
        }
        tracing::info!(%src, times = opened.len(), gone, "sync stored");
        Ok(())
    }

    /// A verified hello (from a registered peer or a newcomer): record it, then sync if the
    /// pair is mutual, or ask our admins to accept it.
    /// `reply_ttl`: the TTL of what answers the hello (its `ttl - 1`), `None` when the hello
    /// may not be answered any more.
    async fn hello(
        &self,
        local: &Local,
        card: Card,
        reply_ttl: Option<Ttl>,
        signer: Signer,
    ) -> Result<(), InboundError> {
        let name = card.name().to_string();
        let guild = card.guild_id().get();
        // Checked in the transaction that stores the hello, so no other hello slips between
        // the check and the change.
        let mut transaction = self.ctx.pool.begin().await?;
        requests::lock_guild(&mut transaction, local.guild_id(), guild).await?;
        if let Some(other) = peers::peer_by_name(&mut *transaction, local.guild_id(), &name).await?
            && other.guild_id != guild
        {
            return Err(Refusal::NameTaken(name).into());
        }
        let Some(known) = peers::peer_by_guild(&mut *transaction, local.guild_id(), guild).await?
        else {
            // Not registered by our admins: the only effect is an approval request, bound to
            // this very card. The same card again makes no second request; another card for
            // the same guild makes its own and leaves the pending one as it was.
            let (request, created) =
                requests::record_request(&mut *transaction, local.guild_id(), &peer_card(&card))
                    .await?;
            transaction.commit().await?;
            if created {
                self.approval_request(local, request.id, &card).await;
            }
            return Ok(());
        };
        let new_card = peer_card(&card);
        let rotated = known.verify_key != new_card.verify_key;
        if rotated {
            // A registered peer's key changes only through a hello signed by the key we have
            // for it; a card that signs itself for a registered guild is an impostor.
            let Signer::RegisteredKey { .. } = signer else {
                return Err(Refusal::KeyMismatch(name, guild).into());
            };
            peers::rotate_peer_keys(
                &mut *transaction,
                known.id,
                &new_card.verify_key,
                &new_card.sealing_key,
            )
            .await?;
        }
        // A hello sealed to our current key shows the peer knows it: after our own rotation,
        // the previous keys go once every peer has shown that.
        let confirms = local.server.keys_rotated_at.is_some()
            && matches!(
                signer,
                Signer::RegisteredKey {
                    sealed_to_current: true
                }
            );
        if confirms {
            peers::confirm_key(&mut *transaction, known.id).await?;
        }
        let peer = peers::record_hello(&mut *transaction, local.guild_id(), &new_card).await?;
        if rotated {
            // Our card, sealed to the peer's new key: it confirms that we heard of it.
            self.outbound
                .send_hello(&mut transaction, local, &peer)
                .await?;
        }
        // A hello is answered with our times at most once per peer per window: a peer must
        // not be able to make us send a whole sync, chunk after chunk, as often as it likes.
        let answer_ttl = match reply_ttl {
            Some(ttl)
                if peer.mutual
                    && peers::claim_hello_sync(&mut *transaction, peer.id, HELLO_SYNC_WINDOW)
                        .await? =>
            {
                Some(ttl)
            }
            _ => None,
        };
        let answered = answer_ttl.is_some();
        if let Some(ttl) = answer_ttl {
            self.outbound
                .enqueue_sync_with_ttl(&mut transaction, local, &peer, ttl)
                .await?;
        }
        transaction.commit().await?;
        if rotated {
            let fingerprint = fingerprint(&card.verify_key());
            tracing::info!(peer = %name, key = %fingerprint, "a peer rotated its keys");
            let line = crate::tr!(
                local.lang(),
                "botcom-rotated",
                name = name.as_str(),
                key = fingerprint.as_str()
            );
            self.ctx.botcom_line(&local.server, &line).await;
        }
        if confirms
            && servers::forget_previous_keys_if_confirmed(&self.ctx.pool, local.guild_id()).await?
        {
            tracing::info!("every peer knows our new keys; the previous ones are forgotten");
        }
        if peer.mutual && !answered {
            metrics::counter!("kakusan_hello_syncs_skipped_total").increment(1);
            tracing::info!(peer = %name, "a hello within 10 minutes of the last answered one; no sync sent");
        }
        if answered {
            let line = crate::tr!(local.lang(), "botcom-mutual", name = name.as_str());
            self.ctx.botcom_line(&local.server, &line).await;
        }
        Ok(())
    }

    /// The approval request for a hello from a server our admins have not registered. The
    /// card itself is not shown: it carries the sender's master webhook URL.
    async fn approval_request(&self, local: &Local, request_id: i64, card: &Card) {
        let Some(channel) = Id::new_checked(local.server.botcom_channel_id) else {
            return;
        };
        let lang = local.lang();
        let text = crate::tr!(
            lang,
            "approval-request",
            name = card.name().as_str(),
            guild = card.guild_id().to_string(),
            key = fingerprint(&card.verify_key())
        );
        let rows = component::rows(vec![component::accept_button(request_id, lang)]);
        let none = AllowedMentions::default();
        if let Err(error) = self
            .ctx
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
}

/// The storage form of a card.
pub(crate) fn peer_card(card: &Card) -> PeerCard<'_> {
    PeerCard {
        name: card.name().as_str(),
        guild_id: card.guild_id().get(),
        webhook_url: card.webhook().clone(),
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
        Self {
            registration,
            webhook_id: hook.id().get(),
            token: SecretString::new(hook.token()),
        }
    }

    fn announced(&self) -> Announced<'_> {
        Announced {
            member_id: self.registration.member.get(),
            member_name: self.registration.name.as_str(),
            channel_id: self.registration.channel.get(),
            thread_id: self.registration.thread.map(|thread| thread.get()),
            webhook_id: self.webhook_id,
            webhook_token: &self.token,
        }
    }
}

/// A short, stable rendering of a verify key for people to compare.
pub(crate) fn fingerprint(key: &VerifyKey) -> String {
    key.to_base64().chars().take(12).collect()
}
