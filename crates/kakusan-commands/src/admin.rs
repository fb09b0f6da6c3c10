//! The server commands: `/setup`, `/card`, `/regserver`, `/unregserver`, `/serverlist`, the
//! Accept button, `/ping` and `/pingall`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use futures_util::future::join_all;
use kakusan_delivery::{discord_code, is_unknown_webhook};
use kakusan_protocol::rand_core::{OsRng, RngCore as _};
use kakusan_protocol::{Body, Card, Ping, ServerName, SigningSecret, VerifyKey, WebhookPolicy};
use kakusan_storage::peers::{self, Peer};
use kakusan_storage::requests;
use kakusan_storage::servers::{self, NewServer};
use kakusan_storage::{PrivateKey, SecretString, StorageError, destinations, times};
use twilight_model::id::Id;

use crate::answers::{Answer, Answers, Awaited};
use crate::context::{Context, Local, WEBHOOK_NAME};
use crate::error::{HandlerError, Outcome};
use crate::federation::{Inbound, Outbound, PostFailure, card, fingerprint, peer_card};
use crate::interaction::{Ctx, Reply};
use crate::model::SetupCommand;
use crate::reasons::reason;
use crate::rotation::Rotations;

/// How often a member may run `/ping` or `/pingall`.
const PING_COOLDOWN: Duration = Duration::from_secs(30);

/// How long `/ping` waits for the pong.
const PONG_WAIT: Duration = Duration::from_secs(10);

/// The server commands, for admins and (`/serverlist`, `/ping`, `/pingall`) everyone.
pub(crate) struct Admin {
    ctx: Arc<Context>,
    outbound: Outbound,
    inbound: Arc<Inbound>,
    answers: Arc<Answers>,
    rotations: Arc<Rotations>,
    /// When each member (per guild) last ran `/ping` or `/pingall` in this process: a member
    /// cannot make kakusan post to every peer's webhook as fast as they can type.
    last_ping: Mutex<HashMap<(u64, u64), Instant>>,
}

impl Admin {
    pub(crate) fn new(
        ctx: Arc<Context>,
        outbound: Outbound,
        inbound: Arc<Inbound>,
        answers: Arc<Answers>,
        rotations: Arc<Rotations>,
    ) -> Self {
        Self {
            ctx,
            outbound,
            inbound,
            answers,
            rotations,
            last_ping: Mutex::default(),
        }
    }

    /// Refuses a `/ping` or `/pingall` within [`PING_COOLDOWN`] of the member's last one.
    fn ping_cooldown(&self, ctx: &Ctx, command: &str) -> Outcome<()> {
        let now = Instant::now();
        let mut last = self
            .last_ping
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        last.retain(|_, at| now.duration_since(*at) < PING_COOLDOWN);
        let key = (ctx.guild(), ctx.user());
        if let Some(at) = last.get(&key) {
            let wait = PING_COOLDOWN
                .saturating_sub(now.duration_since(*at))
                .as_secs()
                + 1;
            metrics::counter!("kakusan_ping_cooldowns_total").increment(1);
            tracing::info!(command, "a ping within the cooldown was refused");
            return Err(HandlerError::refused(crate::tr!(
                ctx.lang,
                "ping-cooldown",
                seconds = PING_COOLDOWN.as_secs(),
                command = command,
                wait = wait
            )));
        }
        last.insert(key, now);
        Ok(())
    }

    pub(crate) async fn setup(&self, ctx: &Ctx, setup: SetupCommand) -> Outcome<Reply> {
        let name = match ServerName::parse(setup.name.trim()) {
            Ok(name) => name,
            Err(_) => {
                return Ok(Reply::text(crate::tr!(
                    ctx.lang,
                    "setup-bad-name",
                    name = setup.name.trim()
                )));
            }
        };
        let channel = setup.channel.id;
        let webhook = match self.ctx.http.create_webhook(channel, WEBHOOK_NAME).await {
            Ok(response) => response.model().await?,
            Err(error) if discord_code(&error).is_some() => {
                return Ok(Reply::text(crate::tr!(
                    ctx.lang,
                    "setup-no-webhook",
                    channel = channel.get()
                )));
            }
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context("creating the master webhook")
                    .into());
            }
        };
        let token = SecretString::new(webhook.token.clone().context("a new webhook has a token")?);
        let previous = servers::server(&self.ctx.pool, ctx.guild()).await?;
        // Fresh key seeds; an existing server keeps its keys (peers know it by them).
        let (mut signing, mut sealing) = ([0u8; 32], [0u8; 32]);
        OsRng.fill_bytes(&mut signing);
        OsRng.fill_bytes(&mut sealing);
        let stored = async {
            let mut transaction = self.ctx.pool.begin().await?;
            let server = servers::upsert_server(
                &mut *transaction,
                &NewServer {
                    guild_id: ctx.guild(),
                    name: name.as_str(),
                    botcom_channel_id: channel.get(),
                    master_webhook_id: webhook.id.get(),
                    master_webhook_token: &token,
                    signing_key: &PrivateKey::new(signing),
                    sealing_key: &PrivateKey::new(sealing),
                },
            )
            .await
            .map_err(|error| match error {
                StorageError::DuplicateServerName => HandlerError::refused(crate::tr!(
                    ctx.lang,
                    "setup-name-taken",
                    name = name.as_str()
                )),
                other => other.into(),
            })?;
            // A rotation keeps the current keys as the previous ones (what peers sealed to them
            // meanwhile still opens) and signs the new card with the old key, the only one
            // the peers accept a key change from. A new server has nothing to rotate.
            let (server, previous_signing) = match (&previous, setup.rotate_keys) {
                (Some(_), Some(true)) => {
                    let (mut signing, mut sealing) = ([0u8; 32], [0u8; 32]);
                    OsRng.fill_bytes(&mut signing);
                    OsRng.fill_bytes(&mut sealing);
                    let previous_signing = SigningSecret::from_seed(*server.signing_key.expose());
                    let rotated = servers::rotate_server_keys(
                        &mut *transaction,
                        ctx.guild(),
                        &PrivateKey::new(signing),
                        &PrivateKey::new(sealing),
                    )
                    .await?;
                    (rotated, Some(previous_signing))
                }
                _ => (server, None),
            };
            let local = Local::load(server);
            // A new name, webhook or key must reach the peers that registered us.
            let mut told = 0;
            for peer in peers::list_peers(&mut *transaction, ctx.guild()).await? {
                if peer.registered_at.is_some() {
                    match &previous_signing {
                        Some(old) => {
                            self.outbound
                                .send_rotation_hello(&mut transaction, &local, &peer, old)
                                .await?;
                        }
                        None => {
                            self.outbound
                                .send_hello(&mut transaction, &local, &peer)
                                .await?;
                        }
                    }
                    told += 1;
                }
            }
            let rotated = previous_signing.is_some();
            transaction.commit().await?;
            Outcome::Ok((local, told, rotated))
        }
        .await;
        let (local, told, rotated) = match stored {
            Ok(stored) => stored,
            Err(error) => {
                // No half-made server: the webhook goes again.
                self.ctx.delete_webhook_quietly(webhook.id.get()).await;
                return Err(error);
            }
        };
        if let Some(previous) = previous
            && previous.master_webhook_id != webhook.id.get()
        {
            self.ctx
                .delete_webhook_quietly(previous.master_webhook_id)
                .await;
        }
        let card = card(&local)?.encode();
        let lang = ctx.lang;
        let done = crate::tr!(
            lang,
            "setup-done",
            name = name.as_str(),
            channel = channel.get()
        );
        let peers_line = match (told, rotated) {
            (0, false) => String::new(),
            (_, false) => crate::tr!(lang, "setup-peers-told", count = told),
            (_, true) => crate::tr!(
                lang,
                "setup-keys-rotated",
                key = fingerprint(&local.keys.verify_key()),
                count = told
            ),
        };
        let give = crate::tr!(lang, "setup-give-card");
        Ok(Reply::text(format!(
            "{}\n{give}\n```\n{card}\n```",
            lang.join(&[done, peers_line])
        )))
    }

    pub(crate) async fn show_card(&self, ctx: &Ctx) -> Outcome<Reply> {
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let card = card(&local)?.encode();
        let title = crate::tr!(ctx.lang, "card-show", name = local.name.as_str());
        Ok(Reply::text(format!("{title}\n```\n{card}\n```")))
    }

    pub(crate) async fn regserver(&self, ctx: &Ctx, text: &str) -> Outcome<Reply> {
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let card = match Card::parse(text, &WebhookPolicy::discord()) {
            Ok(card) => card,
            Err(error) => {
                return Ok(Reply::text(crate::tr!(
                    ctx.lang,
                    "regserver-not-a-card",
                    error = error.to_string()
                )));
            }
        };
        if card.guild_id().get() == ctx.guild() || card.name() == &local.name {
            return Ok(Reply::text(crate::tr!(ctx.lang, "regserver-own-card")));
        }
        let mut transaction = self.ctx.pool.begin().await?;
        requests::lock_guild(&mut transaction, ctx.guild(), card.guild_id().get()).await?;
        let peer = match peers::register_peer(
            &mut *transaction,
            ctx.guild(),
            &peer_card(&card),
            ctx.user(),
        )
        .await
        {
            Ok(peer) => peer,
            Err(StorageError::DuplicatePeer) => {
                return Ok(Reply::text(crate::tr!(
                    ctx.lang,
                    "regserver-duplicate",
                    name = card.name().as_str(),
                    guild = card.guild_id().to_string()
                )));
            }
            Err(error) => return Err(error.into()),
        };
        // Its server may have said hello already, with this very card: then the pair is
        // mutual now. Its other requests go: the admin has registered the guild.
        let card_for_storage = peer_card(&card);
        let peer = if requests::take_matching_request(
            &mut transaction,
            ctx.guild(),
            card_for_storage.guild_id,
            &card_for_storage.verify_key,
        )
        .await?
        {
            peers::record_hello(&mut *transaction, ctx.guild(), &card_for_storage).await?
        } else {
            peer
        };
        self.outbound
            .send_hello(&mut transaction, &local, &peer)
            .await?;
        if peer.mutual {
            self.outbound
                .enqueue_sync(&mut transaction, &local, &peer)
                .await?;
        }
        transaction.commit().await?;
        let name = card.name().as_str();
        Ok(Reply::text(if peer.mutual {
            crate::tr!(ctx.lang, "regserver-mutual", name = name)
        } else {
            crate::tr!(ctx.lang, "regserver-hello", name = name)
        }))
    }

    /// `/unregserver`: forgets the peer and replaces every webhook it held (our times
    /// webhooks, and the master webhook unless `keep_master`).
    pub(crate) async fn unregserver(
        &self,
        ctx: &Ctx,
        name: &str,
        keep_master: bool,
    ) -> Outcome<Reply> {
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let peer = self.peer_named(ctx, name).await?;
        // Forgotten here first: if the database fails, nothing happened. The goodbye then goes
        // out directly, not through the outbox, because no peer row is left to address a
        // queued job to; if it cannot be sent, the admin is told.
        // The peer goes, and every webhook it was given is marked for replacement, in one
        // transaction: a crash after it leaves the rotation to the next start.
        let mut transaction = self.ctx.pool.begin().await?;
        peers::remove_peer(&mut *transaction, ctx.guild(), peer.name.as_str()).await?;
        times::mark_rotation_pending(&mut *transaction, ctx.guild()).await?;
        if !keep_master {
            servers::set_master_rotation_pending(&mut *transaction, ctx.guild(), true).await?;
        }
        transaction.commit().await?;
        let told = self.outbound.post_now(&local, &peer, Body::PeerBye).await;
        self.inbound.forget_sync(peer.id);
        let rotated = self.rotations.finish(ctx.guild()).await?;
        let lang = ctx.lang;
        let name = peer.name.as_str();
        let removed = match told {
            Ok(()) => crate::tr!(lang, "unregserver-told", name = name),
            Err(error) => {
                tracing::warn!("peer.bye to {name} failed: {error:#}");
                crate::tr!(lang, "unregserver-untold", name = name)
            }
        };
        let master = if rotated.master {
            "replaced"
        } else if keep_master {
            "kept"
        } else {
            "none"
        };
        let webhooks = crate::tr!(
            lang,
            "unregserver-webhooks",
            count = rotated.times,
            master = master
        );
        let retry = if rotated.failed > 0 {
            crate::tr!(lang, "unregserver-retry", count = rotated.failed)
        } else {
            String::new()
        };
        Ok(Reply::text(lang.join(&[removed, webhooks, retry])))
    }

    pub(crate) async fn serverlist(&self, ctx: &Ctx) -> Outcome<Reply> {
        let list = peers::list_peers(&self.ctx.pool, ctx.guild()).await?;
        let pending = requests::pending_requests(&self.ctx.pool, ctx.guild()).await?;
        if list.is_empty() && pending.is_empty() {
            return Ok(Reply::text(crate::tr!(ctx.lang, "serverlist-empty")));
        }
        let lang = ctx.lang;
        let mut lines = vec![crate::tr!(lang, "serverlist-header", count = list.len())];
        for peer in &list {
            let state = match (&peer.unreachable_reason, peer.mutual) {
                (Some(stored), _) => crate::tr!(
                    lang,
                    "serverlist-unreachable",
                    reason = reason(lang, Some(stored)),
                    since = peer.unreachable_at.map_or(0, |at| at.timestamp())
                ),
                (None, true) => crate::tr!(lang, "serverlist-mutual"),
                (None, false) => crate::tr!(lang, "serverlist-waiting"),
            };
            let seen = match peer.last_seen_at {
                Some(at) => crate::tr!(lang, "serverlist-seen", at = at.timestamp()),
                None => crate::tr!(lang, "serverlist-never-seen"),
            };
            let ping = match (peer.last_ping_at, peer.last_ping_rtt_ms) {
                (Some(at), Some(rtt)) => {
                    crate::tr!(lang, "serverlist-pinged", rtt = rtt, at = at.timestamp())
                }
                _ => crate::tr!(lang, "serverlist-never-pinged"),
            };
            lines.push(crate::tr!(
                lang,
                "serverlist-peer",
                name = peer.name.as_str(),
                state = state,
                seen = seen,
                ping = ping
            ));
        }
        // Requests are no peers yet: each shows the key that binds it to its card.
        for request in &pending {
            let key = VerifyKey::from_bytes(request.verify_key.0).map_or_else(
                |_| crate::tr!(lang, "key-unreadable"),
                |key| fingerprint(&key),
            );
            lines.push(crate::tr!(
                lang,
                "serverlist-request",
                name = request.name.as_str(),
                guild = request.guild_id.to_string(),
                key = key
            ));
        }
        Ok(Reply::text(lines.join("\n")))
    }

    /// The Accept button under an approval request: registers exactly the card the request
    /// showed, or nothing.
    pub(crate) async fn accept_peer(&self, ctx: &Ctx, request_id: i64) -> Outcome<Reply> {
        if !ctx.can_manage_guild() {
            return Ok(Reply::text(crate::tr!(ctx.lang, "accept-not-admin")));
        }
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let mut transaction = self.ctx.pool.begin().await?;
        let accepted =
            requests::accept_request(&mut transaction, ctx.guild(), request_id, ctx.user()).await;
        let peer = match accepted {
            Ok(Some(peer)) => peer,
            Ok(None) => {
                return Ok(Reply::text(crate::tr!(ctx.lang, "accept-not-pending")));
            }
            Err(StorageError::DuplicatePeer) => {
                return Ok(Reply::text(crate::tr!(ctx.lang, "accept-name-taken")));
            }
            Err(error) => return Err(error.into()),
        };
        self.outbound
            .send_hello(&mut transaction, &local, &peer)
            .await?;
        if peer.mutual {
            self.outbound
                .enqueue_sync(&mut transaction, &local, &peer)
                .await?;
        }
        transaction.commit().await?;
        let line = crate::tr!(
            local.lang(),
            "botcom-accepted",
            user = ctx.user(),
            name = peer.name.as_str()
        );
        self.ctx.botcom_line(&local.server, &line).await;
        Ok(Reply {
            text: crate::tr!(
                ctx.lang,
                "accept-done",
                name = peer.name.as_str(),
                user = ctx.user()
            ),
            components: Vec::new(),
            replaces_message: true,
        })
    }

    pub(crate) async fn ping(&self, ctx: &Ctx, name: &str) -> Outcome<Reply> {
        self.ping_cooldown(ctx, "ping")?;
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let peer = self.peer_named(ctx, name).await?;
        Ok(Reply::text(self.ping_line(ctx, &local, &peer).await?))
    }

    pub(crate) async fn pingall(&self, ctx: &Ctx) -> Outcome<Reply> {
        self.ping_cooldown(ctx, "pingall")?;
        let local = self.ctx.local(ctx.guild(), ctx.lang).await?;
        let list = peers::list_peers(&self.ctx.pool, ctx.guild()).await?;
        if list.is_empty() {
            return Ok(Reply::text(crate::tr!(ctx.lang, "pingall-no-peers")));
        }
        let lines = join_all(list.iter().map(|peer| self.ping_line(ctx, &local, peer))).await;
        let lines: Vec<String> = lines
            .into_iter()
            .zip(&list)
            .map(|(line, peer)| {
                line.unwrap_or_else(|error| {
                    tracing::warn!("ping of {} failed: {error:#}", peer.name);
                    crate::tr!(ctx.lang, "ping-failed", name = peer.name.as_str())
                })
            })
            .collect();
        Ok(Reply::text(lines.join("\n")))
    }

    /// The peer of this guild named `name` (as typed, spaces around it ignored), or the
    /// refusal saying there is none.
    async fn peer_named(&self, ctx: &Ctx, name: &str) -> Outcome<Peer> {
        let name = name.trim();
        peers::peer_by_name(&self.ctx.pool, ctx.guild(), name)
            .await?
            .ok_or_else(|| HandlerError::refused(crate::tr!(ctx.lang, "no-such-peer", name = name)))
    }

    /// One peer's line for `/ping` and `/pingall`: the pong's round trip, and whether the
    /// member's times webhook there still exists.
    async fn ping_line(&self, ctx: &Ctx, local: &Local, peer: &Peer) -> Outcome<String> {
        let sent = Utc::now();
        let ping = Ping::new(&mut OsRng, sent);
        let mut answer = self.answers.expect(Awaited::Pong {
            guild: local.guild_id(),
            nonce: ping.nonce.to_string(),
        });
        let pong = match self.outbound.post_now(local, peer, Body::Ping(ping)).await {
            Ok(()) => {
                // The ping got through: the peer is reachable (again).
                if peer.unreachable_reason.is_some() {
                    peers::set_unreachable(&self.ctx.pool, peer.id, None).await?;
                }
                let deadline = tokio::time::Instant::now() + PONG_WAIT;
                match answer.next_before(deadline).await {
                    Some(Answer::Pong { at }) => {
                        let rtt = (at - sent).num_milliseconds().clamp(0, i64::from(i32::MAX));
                        let rtt = i32::try_from(rtt).unwrap_or(i32::MAX);
                        peers::record_ping(&self.ctx.pool, peer.id, rtt).await?;
                        crate::tr!(ctx.lang, "ping-pong", rtt = rtt)
                    }
                    _ => crate::tr!(ctx.lang, "ping-no-pong", seconds = PONG_WAIT.as_secs()),
                }
            }
            Err(PostFailure::Refused(status)) => {
                // Stored in English, the log's words; shown in each member's language.
                let stored = PostFailure::Refused(status).to_string();
                peers::set_unreachable(&self.ctx.pool, peer.id, Some(&stored)).await?;
                tracing::warn!("ping to {}: {stored}", peer.name);
                crate::tr!(
                    ctx.lang,
                    "ping-unreachable",
                    reason = reason(ctx.lang, Some(&stored))
                )
            }
            Err(PostFailure::Other(error)) => {
                tracing::warn!("ping to {} could not be sent: {error:#}", peer.name);
                crate::tr!(ctx.lang, "ping-not-sent")
            }
        };
        drop(answer);
        let times = self.check_destination(ctx, peer).await?;
        Ok(crate::tr!(
            ctx.lang,
            "ping-line",
            name = peer.name.as_str(),
            pong = pong,
            times = times
        ))
    }

    /// Whether the member's destination at `peer` still has its webhook; a deleted one is
    /// marked broken, as a failed delivery would.
    async fn check_destination(&self, ctx: &Ctx, peer: &Peer) -> Outcome<String> {
        let mine =
            destinations::destinations_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?;
        let Some(destination) = mine.iter().find(|d| d.peer_id == peer.id) else {
            return Ok(crate::tr!(ctx.lang, "ping-no-times"));
        };
        let id = Id::new_checked(destination.webhook_id).context("a stored webhook id")?;
        let result = self
            .ctx
            .http
            .webhook(id)
            .token(destination.webhook_token.expose())
            .await;
        match result {
            Ok(_) => Ok(crate::tr!(ctx.lang, "ping-times-ok")),
            Err(error) if is_unknown_webhook(&error) => {
                destinations::mark_broken(
                    &self.ctx.pool,
                    destination.id,
                    "the webhook was deleted",
                )
                .await?;
                Ok(crate::tr!(ctx.lang, "ping-times-broken"))
            }
            Err(error) => {
                tracing::warn!(%error, "checking a destination webhook");
                Ok(crate::tr!(ctx.lang, "ping-times-unchecked"))
            }
        }
    }
}
