//! A simulator of Discord's REST API and gateway, for end-to-end tests of Discord bots.
//!
//! [`DiscordSim::start`] binds `127.0.0.1:0` and serves, on one port:
//! - the REST API under `/api/v10` (authorisation, Discord's JSON errors, rate-limit headers),
//! - the gateway as a WebSocket on `/` (plain JSON text frames),
//! - uploaded files under `/attachments/...`, like Discord's CDN,
//! - a JSON control API under `/_sim/...` for processes that cannot use the Rust handle.
//!
//! Tests drive the world through the handle: create applications, guilds, channels and members,
//! act as a member (commands, buttons, messages), inject faults, and read back every REST call
//! and every message. The README lists which Discord behaviours are simulated and which are not.
//!
//! ```
//! # async fn demo() -> Result<(), discord_sim::SimError> {
//! use std::time::Duration;
//! use discord_sim::{CommandInvocation, DiscordSim, MessageDraft};
//!
//! let sim = DiscordSim::start_default().await?;
//! let app = sim.create_application("kakusan");
//! let alice = sim.create_user("alice");
//! let guild = sim.create_guild("alpha", alice)?;
//! let channel = sim.create_channel(guild, "times-alice")?;
//! sim.add_bot(guild, app.id, discord_sim::ADMINISTRATOR)?;
//! // Point the bot at `sim.api_url()` and `sim.gateway_url()` with `app.token`, then:
//! let posted = sim.post_message(channel, alice, MessageDraft::text("hello"))?;
//! let interaction = sim.invoke_command(&CommandInvocation::new(app.id, channel, alice, "card"))?;
//! let reply = sim.wait_for_reply(&interaction, Duration::from_secs(5)).await?;
//! # let _ = (posted, reply);
//! # Ok(())
//! # }
//! ```

mod config;
mod control;
mod control_http;
mod error;
mod gateway;
mod messages;
mod permissions;
mod ratelimit;
mod rest;
mod shared;
mod snowflake;
mod validate;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use shared::Shared;
use world::World;

pub use config::SimConfig;
pub use control::{
    AppCredentials, CommandInvocation, CommandOptionValue, Fault, InteractionRef, MessageDraft,
    SimHandle, Upload,
};
pub use error::SimError;
pub use gateway::{
    INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES, INTENT_GUILD_WEBHOOKS, INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
};
pub use permissions::{
    ADMINISTRATOR, ALL as ALL_PERMISSIONS, ATTACH_FILES, DEFAULT_EVERYONE, MANAGE_GUILD,
    MANAGE_MESSAGES, MANAGE_WEBHOOKS, OVERWRITE_MEMBER, OVERWRITE_ROLE, SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS, USE_APPLICATION_COMMANDS, VIEW_CHANNEL,
};
pub use ratelimit::{Limit, RateLimitConfig, RouteLimit};
pub use world::{
    App, Attachment, CHANNEL_DM, CHANNEL_GUILD_FORUM, CHANNEL_GUILD_TEXT, CHANNEL_PRIVATE_THREAD,
    CHANNEL_PUBLIC_THREAD, Channel, ClientId, ClientStats, Command, FaultAction, Guild, Handshake,
    Interaction, InteractionResponse, Member, Message, Overwrite, RecordedCall, Role, User,
    Webhook,
};

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct DiscordSim {
    handle: SimHandle,
    addr: SocketAddr,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    /// The servers of the addresses added with [`DiscordSim::add_address`]; stopped with the
    /// main one.
    extra: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// One more address of a running simulator (see [`DiscordSim::add_address`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimAddress {
    addr: SocketAddr,
}

impl SimAddress {
    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The REST base URL through this address, `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The gateway URL through this address, `ws://127.0.0.1:PORT`.
    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

impl DiscordSim {
    /// Starts a simulator with Discord's default limits on `127.0.0.1:0`.
    pub async fn start_default() -> Result<Self, SimError> {
        Self::start(SimConfig::default()).await
    }

    /// Starts a simulator with the given settings.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let mut world = World::new(&config);
        world.base_url = format!("http://{addr}");
        let shared = Arc::new(Shared::new(world));
        let shutdown = CancellationToken::new();
        let server = serve(listener, &shared, &shutdown);
        Ok(Self {
            handle: SimHandle { shared },
            addr,
            shutdown,
            server: Some(server),
            extra: Mutex::default(),
        })
    }

    /// Serves the same world on one more port of `127.0.0.1`, as a deployment behind its own
    /// HTTP proxy reaches Discord through an address its peers never see. Everything the
    /// simulator hands out (resume URLs, attachment links) still names the main address, as
    /// Discord's answers name Discord, not the proxy.
    pub async fn add_address(&self) -> Result<SimAddress, SimError> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let server = serve(listener, &self.handle.shared, &self.shutdown);
        self.extra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(server);
        Ok(SimAddress { addr })
    }

    /// A clonable handle on the control API.
    pub fn handle(&self) -> SimHandle {
        self.handle.clone()
    }

    /// The socket address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The REST base URL, `http://127.0.0.1:PORT` (the API is under `/api/v10`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The gateway URL, `ws://127.0.0.1:PORT` (the same port as REST).
    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `127.0.0.1:PORT`, the form `twilight_http::Client::builder().proxy(..., true)` takes.
    pub fn proxy_host(&self) -> String {
        self.addr.to_string()
    }

    /// Stops the server and closes gateway connections.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        {
            let mut world = self.handle.shared.lock();
            for session in world.sessions.values_mut() {
                if let Some(tx) = session.tx.take() {
                    let _ = tx.send(world::Outbound::Close(1001, "Simulator stopped.".into()));
                }
            }
        }
        let extra = std::mem::take(&mut *self.extra.lock().unwrap_or_else(|p| p.into_inner()));
        for server in self.server.take().into_iter().chain(extra) {
            server.abort();
            let _ = server.await;
        }
    }
}

/// Serves the REST API, the gateway and the control API of `shared` on `listener` until
/// `shutdown`.
fn serve(
    listener: tokio::net::TcpListener,
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let app = rest::router(shared.clone())
        .merge(control_http::router(shared.clone()))
        .into_make_service();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
        if let Err(error) = serve.await {
            tracing::error!(%error, "simulator server stopped");
        }
    })
}

impl std::ops::Deref for DiscordSim {
    type Target = SimHandle;

    fn deref(&self) -> &SimHandle {
        &self.handle
    }
}

impl Drop for DiscordSim {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let extra = std::mem::take(&mut *self.extra.lock().unwrap_or_else(|p| p.into_inner()));
        for server in self.server.take().into_iter().chain(extra) {
            server.abort();
        }
    }
}
