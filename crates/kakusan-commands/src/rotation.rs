//! Replacing the webhooks a removed peer held: every times webhook of our server and, unless
//! the admin keeps it, the master webhook. `/unregserver` records the rotation in its
//! transaction and finishes it at once; what a crash left undone is finished at the next
//! READY. Each old webhook is deleted by an outbox job, so a failed deletion is retried.

use std::sync::Arc;

use anyhow::Context as _;
use kakusan_delivery::enqueue_webhook_deletion;
use kakusan_protocol::{Body, SealingKey};
use kakusan_storage::{SecretString, peers, servers, times};
use twilight_model::id::Id;

use crate::context::{Context, Local, WEBHOOK_NAME};
use crate::error::Outcome;
use crate::federation::{Outbound, registration};

/// What a rotation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rotated {
    /// Times webhooks replaced.
    pub(crate) times: usize,
    /// Whether the master webhook was replaced.
    pub(crate) master: bool,
    /// Webhooks that could not be made now (they are retried at the next start).
    pub(crate) failed: usize,
}

/// The pending webhook rotations of our servers. It holds no state: what is pending is in the
/// database.
pub(crate) struct Rotations {
    ctx: Arc<Context>,
    outbound: Outbound,
}

impl Rotations {
    pub(crate) fn new(ctx: Arc<Context>, outbound: Outbound) -> Self {
        Self { ctx, outbound }
    }

    /// Finishes the pending rotations of the servers in `guilds` (at READY: a process that
    /// died half-way through one). A failure is logged; the next start tries again.
    pub(crate) async fn finish_all(&self, guilds: &[u64]) {
        for guild in guilds {
            match self.finish(*guild).await {
                Ok(Rotated {
                    times: 0,
                    master: false,
                    failed: 0,
                }) => {}
                Ok(rotated) => {
                    tracing::info!(guild, ?rotated, "finished pending webhook rotations")
                }
                Err(error) => {
                    tracing::warn!(guild, "could not finish webhook rotations: {error:#}")
                }
            }
        }
    }

    /// Replaces every webhook of our server in `guild` that is marked for it: a new webhook
    /// in the same channel, the row and the announcements (or, for the master webhook, the
    /// hello with the new card) in one transaction, and the old webhook's deletion queued.
    pub(crate) async fn finish(&self, guild: u64) -> Outcome<Rotated> {
        let Some(server) = servers::server(&self.ctx.pool, guild).await? else {
            return Ok(Rotated::default());
        };
        let mut rotated = Rotated::default();
        let local = Local::load(server);
        for pending in times::pending_rotations(&self.ctx.pool, guild).await? {
            let Some((id, token)) = self.new_webhook(pending.webhook_channel_id()).await else {
                rotated.failed += 1;
                continue;
            };
            let mut transaction = self.ctx.pool.begin().await?;
            let times = times::replace_webhook(&mut *transaction, pending.id, id, &token).await?;
            for peer in peers::list_peers(&mut *transaction, guild).await? {
                if peer.mutual {
                    let sealing = SealingKey::from_bytes(peer.sealing_key.0)
                        .context("the stored sealing key of a peer")?;
                    let announce = Body::TimesAnnounce(registration(&times, &sealing)?);
                    self.outbound
                        .send_envelope(&mut transaction, &local, &peer, announce, None)
                        .await?;
                }
            }
            enqueue_webhook_deletion(&mut transaction, guild, pending.webhook_id).await?;
            transaction.commit().await?;
            rotated.times += 1;
        }
        if local.server.master_rotation_pending {
            match self.new_webhook(local.server.botcom_channel_id).await {
                None => rotated.failed += 1,
                Some((id, token)) => {
                    let old = local.server.master_webhook_id;
                    let mut transaction = self.ctx.pool.begin().await?;
                    let server =
                        servers::replace_master_webhook(&mut *transaction, guild, id, &token)
                            .await?;
                    let local = Local::load(server);
                    // The peers that registered us learn the new card, as after /setup.
                    for peer in peers::list_peers(&mut *transaction, guild).await? {
                        if peer.registered_at.is_some() {
                            self.outbound
                                .send_hello(&mut transaction, &local, &peer)
                                .await?;
                        }
                    }
                    enqueue_webhook_deletion(&mut transaction, guild, old).await?;
                    transaction.commit().await?;
                    rotated.master = true;
                }
            }
        }
        Ok(rotated)
    }

    /// A new webhook in `channel`; `None` (logged) when Discord refuses it now.
    async fn new_webhook(&self, channel: u64) -> Option<(u64, SecretString)> {
        let channel = Id::new_checked(channel)?;
        let made = async {
            let webhook = self
                .ctx
                .http
                .create_webhook(channel, WEBHOOK_NAME)
                .await?
                .model()
                .await?;
            let token = webhook.token.context("a new webhook has a token")?;
            anyhow::Ok((webhook.id.get(), SecretString::new(token)))
        };
        match made.await {
            Ok(made) => Some(made),
            Err(error) => {
                tracing::warn!(%channel, "could not make a replacement webhook: {error:#}");
                None
            }
        }
    }
}
