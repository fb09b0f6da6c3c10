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

use crate::context::{Context, Local, WEBHOOK_NAME};
use crate::error::{HandlerError, Outcome};
use crate::federation::{Inbound, Outbound, Pings, PostFailure, card, fingerprint, peer_card};
use crate::interaction::{Ctx, Reply};
use crate::model::SetupCommand;
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
    pings: Arc<Pings>,
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
        pings: Arc<Pings>,
        rotations: Arc<Rotations>,
    ) -> Self {
        Self {
            ctx,
            outbound,
            inbound,
            pings,
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
            return Err(HandlerError::refused(format!(
                "You can ping once every {} seconds; try /{command} again in {wait} s.",
                PING_COOLDOWN.as_secs()
            )));
        }
        last.insert(key, now);
        Ok(())
    }

    pub(crate) async fn setup(&self, ctx: &Ctx, setup: SetupCommand) -> Outcome<Reply> {
        let name = match ServerName::parse(setup.name.trim()) {
            Ok(name) => name,
            Err(_) => {
                return Ok(Reply::text(format!(
                    "`{}` cannot be a server name: use 2 to 32 characters of a-z, 0-9 and '-'.",
                    setup.name.trim()
                )));
            }
        };
        let channel = setup.channel.id;
        let webhook = match self.ctx.http.create_webhook(channel, WEBHOOK_NAME).await {
            Ok(response) => response.model().await?,
            Err(error) if discord_code(&error).is_some() => {
                return Ok(Reply::text(format!(
                    "I cannot create a webhook in <#{channel}>: give me View Channel and Manage Webhooks there, then run /setup again."
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
                StorageError::DuplicateServerName => HandlerError::refused(format!(
                    "The name `{name}` is already used by another server of this deployment; choose another."
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
        let peers_line = match (told, rotated) {
            (0, false) => String::new(),
            (_, false) => format!(" {told} peer(s) were told about the change."),
            (_, true) => format!(
                " Its keys were rotated (new key {}); {told} peer(s) were sent the new card, signed with the old key.",
                fingerprint(&local.keys.verify_key())
            ),
        };
        Ok(Reply::text(format!(
            "This server is **{name}** in the federation, with <#{channel}> as its bot-com channel.{peers_line}\n\
             Give this card to the admins of the servers you want to peer with (it is a secret of sorts: it lets them post to your bot-com channel):\n```\n{card}\n```"
        )))
    }

    pub(crate) async fn show_card(&self, ctx: &Ctx) -> Outcome<Reply> {
        let local = self.ctx.local(ctx.guild()).await?;
        let card = card(&local)?.encode();
        Ok(Reply::text(format!(
            "The card of **{}**:\n```\n{card}\n```",
            local.name
        )))
    }

    pub(crate) async fn regserver(&self, ctx: &Ctx, text: &str) -> Outcome<Reply> {
        let local = self.ctx.local(ctx.guild()).await?;
        let card = match Card::parse(text, &WebhookPolicy::discord()) {
            Ok(card) => card,
            Err(error) => {
                return Ok(Reply::text(format!(
                    "That is not a kakusan card ({error}); ask the other server's admins for the output of their /card."
                )));
            }
        };
        if card.guild_id().get() == ctx.guild() || card.name() == &local.name {
            return Ok(Reply::text("That is this server's own card."));
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
                return Ok(Reply::text(format!(
                    "A peer named `{}` or in guild {} is already registered; /unregserver it first to replace it.",
                    card.name(),
                    card.guild_id()
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
        Ok(Reply::text(if peer.mutual {
            format!(
                "Registered **{}**. It had registered this server already, so you are mutual peers now and your members' times are being shared.",
                card.name()
            )
        } else {
            format!(
                "Registered **{}** and sent it a hello. You become mutual peers once its admins register this server or press Accept.",
                card.name()
            )
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
        let local = self.ctx.local(ctx.guild()).await?;
        let Some(peer) = peers::peer_by_name(&self.ctx.pool, ctx.guild(), name.trim()).await?
        else {
            return Ok(Reply::text(format!(
                "There is no peer named `{}`.",
                name.trim()
            )));
        };
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
        let mut text = match told {
            Ok(()) => format!(
                "Removed **{}** and everything learned from it; it was told goodbye.",
                peer.name
            ),
            Err(error) => {
                tracing::warn!("peer.bye to {} failed: {error:#}", peer.name);
                format!(
                    "Removed **{}** and everything learned from it, but it could not be told (its webhook did not answer); its admins may want to /unregserver this server too.",
                    peer.name
                )
            }
        };
        text += &format!(
            " It held this server's webhooks: {} times webhook(s) were replaced",
            rotated.times
        );
        text += if rotated.master {
            ", and the master webhook (the other peers get the new card)."
        } else if keep_master {
            "; the master webhook was kept (keep_master)."
        } else {
            "."
        };
        if rotated.failed > 0 {
            text += &format!(
                " {} could not be replaced now; kakusan tries again at its next start.",
                rotated.failed
            );
        }
        Ok(Reply::text(text))
    }

    pub(crate) async fn serverlist(&self, ctx: &Ctx) -> Outcome<Reply> {
        let list = peers::list_peers(&self.ctx.pool, ctx.guild()).await?;
        let pending = requests::pending_requests(&self.ctx.pool, ctx.guild()).await?;
        if list.is_empty() && pending.is_empty() {
            return Ok(Reply::text(
                "This server has no peers yet. An admin registers one with /regserver and its card.",
            ));
        }
        let mut lines = vec![format!("Peers ({}):", list.len())];
        for peer in &list {
            let state = match (&peer.unreachable_reason, peer.mutual) {
                (Some(reason), _) => format!(
                    "unreachable ({reason}) since <t:{}:R>; /ping retries",
                    peer.unreachable_at.map_or(0, |at| at.timestamp())
                ),
                (None, true) => "mutual".to_owned(),
                (None, false) => "waiting for them to register this server".to_owned(),
            };
            let seen = peer
                .last_seen_at
                .map(|at| format!("last seen <t:{}:R>", at.timestamp()))
                .unwrap_or_else(|| "never seen".to_owned());
            let ping = match (peer.last_ping_at, peer.last_ping_rtt_ms) {
                (Some(at), Some(rtt)) => format!("last ping {rtt} ms <t:{}:R>", at.timestamp()),
                _ => "never pinged".to_owned(),
            };
            lines.push(format!("• **{}**: {state}; {seen}; {ping}", peer.name));
        }
        // Requests are no peers yet: each shows the key that binds it to its card.
        for request in &pending {
            let key = VerifyKey::from_bytes(request.verify_key.0)
                .map_or_else(|_| "unreadable".to_owned(), |key| fingerprint(&key));
            lines.push(format!(
                "• **{}** (guild {}, key {key}): asks to be accepted (Accept button in the bot-com channel)",
                request.name, request.guild_id
            ));
        }
        Ok(Reply::text(lines.join("\n")))
    }

    /// The Accept button under an approval request: registers exactly the card the request
    /// showed, or nothing.
    pub(crate) async fn accept_peer(&self, ctx: &Ctx, request_id: i64) -> Outcome<Reply> {
        if !ctx.can_manage_guild() {
            return Ok(Reply::text(
                "Only someone with the Manage Server permission can accept a peer.",
            ));
        }
        let local = self.ctx.local(ctx.guild()).await?;
        let mut transaction = self.ctx.pool.begin().await?;
        let accepted =
            requests::accept_request(&mut transaction, ctx.guild(), request_id, ctx.user()).await;
        let peer = match accepted {
            Ok(Some(peer)) => peer,
            Ok(None) => {
                return Ok(Reply::text(
                    "That request is no longer pending: it was accepted, or its guild was registered another way.",
                ));
            }
            Err(StorageError::DuplicatePeer) => {
                return Ok(Reply::text(
                    "Another peer of this server already has that name; it was not accepted.",
                ));
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
        self.ctx
            .botcom_line(
                &local.server,
                &format!("<@{}> accepted **{}** as a peer.", ctx.user(), peer.name),
            )
            .await;
        Ok(Reply {
            text: format!(
                "**{}** was accepted by <@{}>; you are mutual peers now.",
                peer.name,
                ctx.user()
            ),
            components: Vec::new(),
            replaces_message: true,
        })
    }

    pub(crate) async fn ping(&self, ctx: &Ctx, name: &str) -> Outcome<Reply> {
        self.ping_cooldown(ctx, "ping")?;
        let local = self.ctx.local(ctx.guild()).await?;
        let Some(peer) = peers::peer_by_name(&self.ctx.pool, ctx.guild(), name.trim()).await?
        else {
            return Ok(Reply::text(format!(
                "There is no peer named `{}`.",
                name.trim()
            )));
        };
        Ok(Reply::text(self.ping_line(ctx, &local, &peer).await?))
    }

    pub(crate) async fn pingall(&self, ctx: &Ctx) -> Outcome<Reply> {
        self.ping_cooldown(ctx, "pingall")?;
        let local = self.ctx.local(ctx.guild()).await?;
        let list = peers::list_peers(&self.ctx.pool, ctx.guild()).await?;
        if list.is_empty() {
            return Ok(Reply::text("This server has no peers to ping."));
        }
        let lines = join_all(list.iter().map(|peer| self.ping_line(ctx, &local, peer))).await;
        let lines: Vec<String> = lines
            .into_iter()
            .zip(&list)
            .map(|(line, peer)| {
                line.unwrap_or_else(|error| {
                    tracing::warn!("ping of {} failed: {error:#}", peer.name);
                    format!("**{}**: could not be pinged", peer.name)
                })
            })
            .collect();
        Ok(Reply::text(lines.join("\n")))
    }

    /// One peer's line for `/ping` and `/pingall`: the pong's round trip, and whether the
    /// member's times webhook there still exists.
    async fn ping_line(&self, ctx: &Ctx, local: &Local, peer: &Peer) -> Outcome<String> {
        let sent = Utc::now();
        let ping = Ping::new(&mut OsRng, sent);
        let (guild, nonce) = (local.guild_id(), ping.nonce);
        let answer = self.pings.expect(guild, nonce);
        let pong = match self.outbound.post_now(local, peer, Body::Ping(ping)).await {
            Ok(()) => {
                // The ping got through: the peer is reachable (again).
                if peer.unreachable_reason.is_some() {
                    peers::set_unreachable(&self.ctx.pool, peer.id, None).await?;
                }
                match tokio::time::timeout(PONG_WAIT, answer).await {
                    Ok(Ok(at)) => {
                        let rtt = (at - sent).num_milliseconds().clamp(0, i64::from(i32::MAX));
                        let rtt = i32::try_from(rtt).unwrap_or(i32::MAX);
                        peers::record_ping(&self.ctx.pool, peer.id, rtt).await?;
                        format!("pong in {rtt} ms")
                    }
                    _ => format!("no pong within {} s", PONG_WAIT.as_secs()),
                }
            }
            Err(PostFailure::Refused(status)) => {
                let reason = format!("its webhook refused us ({status})");
                peers::set_unreachable(&self.ctx.pool, peer.id, Some(&reason)).await?;
                tracing::warn!("ping to {}: {reason}", peer.name);
                format!("unreachable: {reason}; nothing is sent to it until a ping gets through")
            }
            Err(PostFailure::Other(error)) => {
                tracing::warn!("ping to {} could not be sent: {error:#}", peer.name);
                "the ping could not be sent (its webhook did not answer)".to_owned()
            }
        };
        self.pings.forget(guild, nonce);
        let times = self.check_destination(ctx, peer).await?;
        Ok(format!("**{}**: {pong}; {times}", peer.name))
    }

    /// Whether the member's destination at `peer` still has its webhook; a deleted one is
    /// marked broken, as a failed delivery would.
    async fn check_destination(&self, ctx: &Ctx, peer: &Peer) -> Outcome<String> {
        let mine =
            destinations::destinations_of_member(&self.ctx.pool, ctx.guild(), ctx.user()).await?;
        let Some(destination) = mine.iter().find(|d| d.peer_id == peer.id) else {
            return Ok("you have no times there".to_owned());
        };
        let id = Id::new_checked(destination.webhook_id).context("a stored webhook id")?;
        let result = self
            .ctx
            .http
            .webhook(id)
            .token(destination.webhook_token.expose())
            .await;
        match result {
            Ok(_) => Ok("your times there: ok".to_owned()),
            Err(error) if is_unknown_webhook(&error) => {
                destinations::mark_broken(
                    &self.ctx.pool,
                    destination.id,
                    "the webhook was deleted",
                )
                .await?;
                Ok("your times there: broken (its webhook was deleted)".to_owned())
            }
            Err(error) => {
                tracing::warn!(%error, "checking a destination webhook");
                Ok("your times there: could not be checked".to_owned())
            }
        }
    }
}
