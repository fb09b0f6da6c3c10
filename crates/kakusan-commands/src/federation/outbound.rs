//! Envelopes kakusan sends: built, signed and queued in the caller's transaction (hello,
//! sync, announce, withdraw, pong), or posted at once where the round trip is the point.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use kakusan_delivery::{EnvelopePayload, enqueue_envelope, webhook_username};
use kakusan_protocol::rand_core::OsRng;
use kakusan_protocol::{
    Body, Card, DisplayName, Envelope, Hello, Registration, SealedSecret, SealingKey,
    SigningSecret, Snowflake, Ttl, WebhookUrl, split_sync_with_ttl,
};
use kakusan_storage::peers::{self, Peer};
use kakusan_storage::{PgConnection, SecretString, times};
use twilight_model::channel::message::AllowedMentions;
use twilight_model::id::Id;

use crate::context::{Context, Local};
use crate::error::Outcome;

/// How long a peer's master webhook may take to take an envelope posted at once.
const POST_NOW_WAIT: Duration = Duration::from_secs(10);

/// The sending side of the federation. It holds no state: what it sends is in the outbox.
#[derive(Clone)]
pub(crate) struct Outbound {
    ctx: Arc<Context>,
}

impl Outbound {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Queues `body` for `peer`, signed by `local`, in the caller's transaction.
    pub(crate) async fn send_envelope(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
        body: Body,
        ttl: Option<Ttl>,
    ) -> Outcome<()> {
        self.queue_signed(
            connection,
            local,
            peer,
            body,
            ttl,
            local.keys.signing(),
            None,
        )
        .await
    }

    /// [`Outbound::send_envelope`] in the outbox lane `lane` instead of the peer's own: the
    /// envelope leaves only after the jobs queued before it in that lane (a `member.forgotten`
    /// after the deletions it reports). It is still posted through the peer's master webhook.
    pub(crate) async fn send_envelope_after(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
        body: Body,
        ttl: Option<Ttl>,
        lane: u64,
    ) -> Outcome<()> {
        let key = local.keys.signing();
        self.queue_signed(connection, local, peer, body, ttl, key, Some(lane))
            .await
    }

    /// Queues `body` for `peer` from `local`, signed by `key`, in the peer's lane unless `lane`
    /// names another.
    #[expect(
        clippy::too_many_arguments,
        reason = "private; each caller names the one or two that differ"
    )]
    async fn queue_signed(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
        body: Body,
        ttl: Option<Ttl>,
        key: &SigningSecret,
        lane: Option<u64>,
    ) -> Outcome<()> {
        if peer.unreachable_reason.is_some() {
            // Its webhook refuses us: queueing more would only make Discord count more invalid
            // requests. A /ping that gets through makes the peer reachable again.
            tracing::debug!(peer = %peer.name, "not queued: the peer is unreachable");
            return Ok(());
        }
        let text = signed(local, peer, body, ttl, key)?;
        let payload = EnvelopePayload {
            content: text,
            username: webhook_username("kakusan", local.name.as_str()),
        };
        let lane = lane.unwrap_or(peer.webhook_url.id().get());
        enqueue_envelope(connection, local.guild_id(), peer.id, lane, &payload).await?;
        Ok(())
    }

    /// Queues our card, sealed to the peer, as a `peer.hello`.
    pub(crate) async fn send_hello(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
    ) -> Outcome<()> {
        let hello = hello(local, peer)?;
        self.send_envelope(connection, local, peer, hello, None)
            .await
    }

    /// Queues our new card after a key rotation, sealed to the peer and signed with the key
    /// the peer still has for us (`previous`): the peer accepts a key change only from a hello
    /// signed by the key it knows.
    pub(crate) async fn send_rotation_hello(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
        previous: &SigningSecret,
    ) -> Outcome<()> {
        let hello = hello(local, peer)?;
        self.queue_signed(connection, local, peer, hello, None, previous, None)
            .await
    }

    /// Queues every times of our server, sealed to the peer, as a chunked `times.sync`.
    pub(crate) async fn enqueue_sync(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
    ) -> Outcome<()> {
        self.enqueue_sync_with_ttl(connection, local, peer, Ttl::default())
            .await
    }

    /// [`Outbound::enqueue_sync`] with the chunks' TTL: an answer carries its cause's `ttl - 1`.
    pub(crate) async fn enqueue_sync_with_ttl(
        &self,
        connection: &mut PgConnection,
        local: &Local,
        peer: &Peer,
        ttl: Ttl,
    ) -> Outcome<()> {
        if peer.unreachable_reason.is_some() {
            tracing::debug!(peer = %peer.name, "no sync queued: the peer is unreachable");
            return Ok(());
        }
        let sealing = SealingKey::from_bytes(peer.sealing_key.0)
            .context("the stored sealing key of a peer")?;
        let mut registrations = Vec::new();
        for times in times::list_times(&mut *connection, local.guild_id()).await? {
            if times.broken_reason.is_none() {
                registrations.push(registration(&times, &sealing)?);
            }
        }
        let dst = peer.name.clone();
        let chunks = split_sync_with_ttl(
            &local.name,
            &dst,
            &registrations,
            Utc::now(),
            ttl,
            local.keys.signing(),
            &mut OsRng,
        )
        .context("splitting a sync")?;
        let webhook_id = peer.webhook_url.id().get();
        let username = webhook_username("kakusan", local.name.as_str());
        for chunk in chunks {
            let payload = EnvelopePayload {
                content: chunk.into_string(),
                username: username.clone(),
            };
            enqueue_envelope(connection, local.guild_id(), peer.id, webhook_id, &payload).await?;
        }
        // Every sync counts towards the window in which hellos are not answered with another.
        peers::note_sync_sent(&mut *connection, peer.id).await?;
        Ok(())
    }

    /// Posts an envelope to a peer at once, outside the outbox: for pings, whose round trip is
    /// the point, and for the goodbye, whose peer row is about to go.
    pub(crate) async fn post_now(
        &self,
        local: &Local,
        peer: &Peer,
        body: Body,
    ) -> Result<(), PostFailure> {
        let text =
            signed(local, peer, body, None, local.keys.signing()).map_err(PostFailure::Other)?;
        let (id, token) = (
            Id::new(peer.webhook_url.id().get()),
            peer.webhook_url.token(),
        );
        let none = AllowedMentions::default();
        let username = webhook_username("kakusan", local.name.as_str());
        let answer = tokio::time::timeout(
            POST_NOW_WAIT,
            self.ctx
                .http
                .execute_webhook(id, token)
                .content(&text)
                .username(&username)
                .allowed_mentions(Some(&none))
                .into_future(),
        )
        .await
        .map_err(|_| {
            PostFailure::Other(anyhow::anyhow!("the peer's webhook did not answer in 10 s"))
        })?;
        match answer {
            Ok(_) => Ok(()),
            Err(error) => match refusal_status(&error) {
                Some(status) => Err(PostFailure::Refused(status)),
                None => Err(PostFailure::Other(error.into())),
            },
        }
    }
}

/// Why an envelope posted at once did not arrive.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostFailure {
    /// The peer's master webhook refused us (401, 403, 404): the peer is unreachable.
    #[error("its webhook refused us ({0})")]
    Refused(u16),
    /// No answer, or another failure.
    #[error(transparent)]
    Other(anyhow::Error),
}

/// The status of an answer that says the webhook will never take our envelopes (it is gone,
/// or its token or our access is refused).
fn refusal_status(error: &twilight_http::Error) -> Option<u16> {
    match error.kind() {
        twilight_http::error::ErrorType::Response { status, .. }
            if matches!(status.get(), 401 | 403 | 404) =>
        {
            Some(status.get())
        }
        _ => None,
    }
}

/// A `peer.hello` with our card, sealed to `peer`.
fn hello(local: &Local, peer: &Peer) -> anyhow::Result<Body> {
    let card = card(local)?;
    let sealing =
        SealingKey::from_bytes(peer.sealing_key.0).context("the stored sealing key of a peer")?;
    let hello = Hello::seal(&card, &sealing, &mut OsRng).context("sealing our card")?;
    Ok(Body::PeerHello(hello))
}

/// `body` for `peer` as wire text signed by `key`.
fn signed(
    local: &Local,
    peer: &Peer,
    body: Body,
    ttl: Option<Ttl>,
    key: &SigningSecret,
) -> anyhow::Result<String> {
    let dst = peer.name.clone();
    let mut envelope = Envelope::new(local.name.clone(), dst, body, Utc::now(), &mut OsRng);
    if let Some(ttl) = ttl {
        envelope = envelope.with_ttl(ttl);
    }
    Ok(envelope
        .sign(key)
        .context("signing an envelope")?
        .into_string())
}

/// One times as a registration for a peer: its webhook sealed to that peer.
pub(crate) fn registration(
    times: &times::Times,
    sealing: &SealingKey,
) -> anyhow::Result<Registration> {
    let url = webhook_url(times.webhook_id, &times.webhook_token)?;
    Ok(Registration {
        member: Snowflake::new(times.member_id)?,
        name: DisplayName::parse(&times.member_name).or_else(|_| DisplayName::parse("member"))?,
        channel: Snowflake::new(times.webhook_channel_id())?,
        thread: times.thread_id().map(Snowflake::new).transpose()?,
        hook: SealedSecret::seal_webhook(sealing, &url, &mut OsRng)?,
    })
}

/// The URL of one of our webhooks as peers get it: in Discord's own form, whatever
/// `KAKUSAN_DISCORD_API` this deployment reaches Discord through (a proxy's private address
/// would mean nothing to a peer).
fn webhook_url(id: u64, token: &SecretString) -> anyhow::Result<WebhookUrl> {
    WebhookUrl::discord(Snowflake::new(id)?, token.expose())
        .context("a stored webhook is not a Discord webhook")
}

/// Our server's card.
pub(crate) fn card(local: &Local) -> anyhow::Result<Card> {
    Ok(Card::new(
        local.name.clone(),
        Snowflake::new(local.guild_id())?,
        webhook_url(
            local.server.master_webhook_id,
            &local.server.master_webhook_token,
        )?,
        local.keys.verify_key(),
        local.keys.sealing_key(),
    ))
}
