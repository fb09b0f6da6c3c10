//! Shared set-up: a simulator with one guild, channel, member and bot, a recording handler,
//! and the gateway loop running against them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use discord_sim::{AppCredentials, DiscordSim, SimConfig};
use kakusan_gateway::{EventHandler, GatewayConfig, GatewayStatus, ShardSession, ShardSlice};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use twilight_gateway::{Event, EventTypeFlags, Intents, ShardId};

/// Generous enough for a loaded two-core machine, short enough to fail fast.
pub(crate) const WAIT: Duration = Duration::from_secs(8);

/// A simulator with a guild ("alpha"), a text channel, a member and one bot.
pub(crate) struct World {
    pub(crate) sim: DiscordSim,
    pub(crate) app: AppCredentials,
    pub(crate) member: u64,
    pub(crate) channel: u64,
}

pub(crate) fn install_crypto() {
    // A second install fails; the first one is what counts.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) async fn world_with(config: SimConfig) -> World {
    install_crypto();
    let sim = DiscordSim::start(config).await.expect("simulator starts");
    let app = sim.create_application("kakusan");
    let owner = sim.create_user("owner");
    let member = sim.create_user("alice");
    let guild = sim.create_guild("alpha", owner).unwrap();
    sim.add_member(guild, member, &[]).unwrap();
    let channel = sim.create_channel(guild, "times-alice").unwrap();
    sim.add_bot(guild, app.id, discord_sim::ADMINISTRATOR)
        .unwrap();
    World {
        sim,
        app,
        member,
        channel,
    }
}

pub(crate) async fn world() -> World {
    world_with(SimConfig::default()).await
}

/// A twilight-http client pointed at the simulator, as the binary points it at Discord.
pub(crate) fn http(sim: &DiscordSim, token: &str) -> twilight_http::Client {
    install_crypto();
    twilight_http::Client::builder()
        .token(token.to_owned())
        .proxy(sim.proxy_host(), true)
        .timeout(WAIT)
        .build()
}

pub(crate) fn intents() -> Intents {
    Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT
}

/// Records every event it is given, then acts on the content of member messages: `fail`
/// returns an error, `panic` panics, `slow` takes 300 ms, `stuck` never finishes.
#[derive(Debug)]
pub(crate) struct Recording {
    seen: mpsc::UnboundedSender<(ShardId, Event)>,
    /// How many `slow` messages were handled to the end.
    pub(crate) slow_done: AtomicUsize,
}

impl EventHandler for Recording {
    fn handle(
        self: Arc<Self>,
        shard: ShardId,
        event: Event,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let _ = self.seen.send((shard, event.clone()));
        async move {
            let Event::MessageCreate(message) = event else {
                return Ok(());
            };
            match message.content.as_str() {
                "fail" => anyhow::bail!("told to fail"),
                "panic" => panic!("told to panic"),
                "slow" => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    self.slow_done.fetch_add(1, Ordering::SeqCst);
                }
                "stuck" => std::future::pending::<()>().await,
                _ => {}
            }
            Ok(())
        }
    }
}

/// The gateway loop running in a task, and what a test needs to watch and stop it.
pub(crate) struct Running {
    pub(crate) status: GatewayStatus,
    pub(crate) shutdown: CancellationToken,
    pub(crate) handler: Arc<Recording>,
    pub(crate) events: mpsc::UnboundedReceiver<(ShardId, Event)>,
    pub(crate) task: tokio::task::JoinHandle<anyhow::Result<Vec<ShardSession>>>,
}

/// Starts [`kakusan_gateway::run`] for the world's bot with these settings.
pub(crate) fn start(
    world: &World,
    token: &str,
    event_types: EventTypeFlags,
    shutdown_grace: Duration,
) -> Running {
    start_resuming(world, token, event_types, shutdown_grace, Vec::new())
}

/// [`start`], offering `resume` to the shards.
pub(crate) fn start_resuming(
    world: &World,
    token: &str,
    event_types: EventTypeFlags,
    shutdown_grace: Duration,
    resume: Vec<ShardSession>,
) -> Running {
    let http = http(&world.sim, token);
    let config = GatewayConfig {
        token: token.to_owned(),
        intents: intents(),
        event_types,
        proxy_url: Some(world.sim.gateway_url()),
        shutdown_grace,
        resume,
        slice: ShardSlice::default(),
        identify_queue: None,
    };
    let (seen, events) = mpsc::unbounded_channel();
    let handler = Arc::new(Recording {
        seen,
        slow_done: AtomicUsize::new(0),
    });
    let status = GatewayStatus::default();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let (handler, status, shutdown) = (handler.clone(), status.clone(), shutdown.clone());
        async move { kakusan_gateway::run(&http, config, handler, status, shutdown).await }
    });
    Running {
        status,
        shutdown,
        handler,
        events,
        task,
    }
}

/// Reads handled events until `pick` returns Some, failing after [`WAIT`].
pub(crate) async fn next_matching<T>(
    events: &mut mpsc::UnboundedReceiver<(ShardId, Event)>,
    mut pick: impl FnMut(ShardId, &Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (shard, event) = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("event before the deadline")
            .expect("handler alive");
        if let Some(value) = pick(shard, &event) {
            return value;
        }
    }
}

/// Polls `condition` until it holds, failing after [`WAIT`] with `what`.
pub(crate) async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The message with this content, if `event` is its MESSAGE_CREATE.
pub(crate) fn created<'a>(event: &'a Event, content: &str) -> Option<&'a Event> {
    match event {
        Event::MessageCreate(m) if m.content == content => Some(event),
        _ => None,
    }
}
