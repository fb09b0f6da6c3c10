//! The `kakusan` binary: configuration -> telemetry -> HTTP endpoint -> database -> delivery ->
//! gateway, then run until shutdown.

mod bot;
mod check;
mod config;
mod database;
mod dlq;
mod http;
mod identify;
mod metrics;
mod publish;
mod telemetry;
mod worker;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kakusan_delivery::{Delivery, DeliveryConfig};
use kakusan_storage::PgPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, DatabaseConfig, DiscordConfig, LogConfig, NatsConfig, ProcessEnv};

/// A federated Times relay for Discord.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply database migrations, then deliver queued relays until SIGTERM or SIGINT (the
    /// default).
    Run,
    /// Apply database migrations and exit; running it again changes nothing.
    Migrate,
    /// Check the configuration, the database, the token and the gateway; one line each, and
    /// a failing exit status if any check failed.
    Check,
    /// Scale-out: hold the shards (all, or a slice) and publish their events to NATS
    /// JetStream for `kakusan worker`s; handles nothing itself. Needs KAKUSAN_NATS_URL.
    Gateway {
        /// This gateway process's number, from 0 (default: KAKUSAN_GATEWAY_ID, else 0).
        #[arg(long, value_name = "N")]
        gateway_id: Option<u32>,
        /// How many gateway processes share the shards; shard s belongs to gateway
        /// s % M (default: KAKUSAN_GATEWAY_COUNT, else 1).
        #[arg(long, value_name = "M")]
        gateway_count: Option<u32>,
    },
    /// Scale-out: handle the events `kakusan gateway` publishes, in order per channel, and
    /// deliver relays; run as many as the load needs. Needs KAKUSAN_NATS_URL.
    Worker,
    /// Scale-out: the events workers gave up on after repeated failures.
    Dlq {
        #[command(subcommand)]
        action: dlq::Action,
    },
    /// Register the slash commands with Discord and exit (`run` does it too at start-up).
    RegisterCommands {
        /// Register them in this guild only (instant; for trials) instead of globally.
        /// Default: KAKUSAN_COMMANDS_GUILD, else global.
        #[arg(long, value_name = "ID")]
        guild: Option<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only ./.env is read, never a parent's. A missing one is normal (docker compose passes the
    // variables itself); a broken one is not.
    if let Err(error) = dotenvy::from_path(".env")
        && !error.not_found()
    {
        eprintln!("error: .env could not be read: {error}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command.unwrap_or(Command::Run))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the configuration error or the failure with its causes.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run => serve(Role::All).await,
        Command::Gateway {
            gateway_id,
            gateway_count,
        } => {
            serve(Role::Gateway {
                gateway_id,
                gateway_count,
            })
            .await
        }
        Command::Worker => serve(Role::Worker).await,
        Command::Dlq { action } => dlq::run(action).await,
        Command::Migrate => migrate().await,
        Command::Check => check::run().await,
        Command::RegisterCommands { guild } => register_commands(guild).await,
    }
}

async fn migrate() -> anyhow::Result<()> {
    let log = LogConfig::from_vars(&ProcessEnv)?;
    let database = DatabaseConfig::from_vars(&ProcessEnv)?;
    // `migrate` never talks to Discord, so it has no bot token to keep out of the log.
    telemetry::init(&log, None);
    let shutdown = shutdown_on_signal();
    if database::connect_and_migrate(&database, &shutdown)
        .await?
        .is_none()
    {
        tracing::info!("stopped before the database answered; nothing was changed");
    }
    Ok(())
}

/// What a serving process does.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// `kakusan run`: the shards, the handlers and delivery in one process.
    All,
    /// `kakusan gateway`: the shards of a slice, publishing to NATS.
    Gateway {
        gateway_id: Option<u32>,
        gateway_count: Option<u32>,
    },
    /// `kakusan worker`: the handlers on events from NATS, and delivery.
    Worker,
}

async fn serve(role: Role) -> anyhow::Result<()> {
    let mut config = Config::from_vars(&ProcessEnv)?;
    if !matches!(role, Role::All) {
        let nats = NatsConfig::required(config.nats.as_ref())?.clone();
        config.nats = Some(with_slice(nats, role)?);
    }
    telemetry::init(&config.log, Some(&config.discord.token));
    log_start(&config, role);
    // Every background task runs on `tasks` and stops when `shutdown` is cancelled.
    let shutdown = shutdown_on_signal();
    let tasks = TaskTracker::new();
    let endpoint = start_endpoint(&config, role, &tasks, &shutdown).await?;
    let Some(pool) = database::connect_and_migrate(&config.database, &shutdown).await? else {
        tracing::info!("stopped before the database answered");
        stop(tasks, &shutdown).await;
        return Ok(());
    };
    endpoint.database_connected(&pool, &tasks, &shutdown);
    let http = Arc::new(discord_client(&config.discord));
    let outcome = match role {
        Role::All => {
            start_delivery(&config.discord.api, &pool, &http, &tasks, &shutdown);
            run_gateway(&config.discord, &pool, http, &endpoint, &tasks, &shutdown).await
        }
        Role::Gateway { .. } => publish_gateway(&config, &pool, http, &endpoint, &shutdown).await,
        Role::Worker => {
            start_delivery(&config.discord.api, &pool, &http, &tasks, &shutdown);
            run_worker(&config, &pool, http, &endpoint, &tasks, &shutdown).await
        }
    };
    stop(tasks, &shutdown).await;
    pool.close().await;
    outcome
}

/// The NATS settings with the command line's `--gateway-id` and `--gateway-count`, which win
/// over the environment.
fn with_slice(mut nats: NatsConfig, role: Role) -> anyhow::Result<NatsConfig> {
    if let Role::Gateway {
        gateway_id,
        gateway_count,
    } = role
    {
        nats.gateway_id = gateway_id.unwrap_or(nats.gateway_id);
        nats.gateway_count = gateway_count.unwrap_or(nats.gateway_count);
        config::check_slice(nats.gateway_id, nats.gateway_count)
            .map_err(|reason| anyhow::anyhow!("--gateway-id/--gateway-count: {reason}"))?;
    }
    Ok(nats)
}

/// Connects to the bus as `application`'s deployment.
async fn connect_bus(
    nats: &NatsConfig,
    application: twilight_model::id::Id<twilight_model::id::marker::ApplicationMarker>,
) -> anyhow::Result<kakusan_bus::Bus> {
    let bus = kakusan_bus::Bus::connect(&kakusan_bus::BusConfig {
        url: nats.url.as_str().to_owned(),
        stream: nats.stream.clone(),
        group: nats.group.clone(),
        application: application.get(),
    })
    .await
    .context("KAKUSAN_NATS_URL")?;
    tracing::info!(stream = %nats.stream, group = %nats.group, "connected to NATS");
    Ok(bus)
}

/// `kakusan gateway`: registers the commands, then the slice's shards publish to the bus
/// until shutdown.
async fn publish_gateway(
    config: &Config,
    pool: &PgPool,
    http: Arc<twilight_http::Client>,
    endpoint: &Endpoint,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let nats = NatsConfig::required(config.nats.as_ref())?;
    let (application, _) = bot::register(&http, config.discord.commands_guild).await?;
    tracing::info!(application = %application, "slash commands registered");
    let bus = connect_bus(nats, application).await?;
    endpoint.bus_connected();
    let max_concurrency = http
        .gateway()
        .authed()
        .await
        .context("asking Discord for the gateway's limits")?
        .model()
        .await
        .context("reading the gateway's limits")?
        .session_start_limit
        .max_concurrency;
    let shards = bot::Shards {
        application,
        slice: kakusan_gateway::ShardSlice {
            index: nats.gateway_id,
            count: nats.gateway_count,
        },
        identify_queue: Some(Arc::new(identify::LockedQueue::new(
            pool.clone(),
            max_concurrency,
        ))),
    };
    let publisher = publish::Publisher::start(bus, pool.clone(), nats.gateway_id);
    let gateway = shards.start(
        &config.discord,
        pool.clone(),
        http,
        publisher,
        endpoint.gateway_status.clone(),
        shutdown.clone(),
    );
    serve_until_shutdown(gateway, shutdown).await
}

/// `kakusan worker`: the handlers on the bus's lanes until shutdown (delivery runs beside).
async fn run_worker(
    config: &Config,
    pool: &PgPool,
    http: Arc<twilight_http::Client>,
    endpoint: &Endpoint,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let nats = NatsConfig::required(config.nats.as_ref())?;
    let application = bot::application_id(&http).await?;
    let user = http
        .current_user()
        .await
        .context("asking Discord for the bot user")?
        .model()
        .await
        .context("reading the bot user")?;
    let bus = connect_bus(nats, application).await?;
    endpoint.bus_connected();
    let app = kakusan_commands::App::new(
        pool.clone(),
        Arc::clone(&http),
        kakusan_commands::AppConfig {
            application_id: application,
            message_content: config.discord.mirror,
        },
    );
    app.know_bot_user(user.id);
    tasks.spawn(bot::prune_seen_envelopes(pool.clone(), shutdown.clone()));
    tasks.spawn(bot::listen_for_answers(Arc::clone(&app), shutdown.clone()));
    let worker = worker::Worker {
        app,
        bus,
        pool: pool.clone(),
        group: nats.group.clone(),
    };
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    serve_until_shutdown(handle, shutdown).await
}

/// The settings kakusan starts with, in one log line (no secret among them).
fn log_start(config: &Config, role: Role) {
    tracing::info!(
        role = ?role,
        nats = config.nats.as_ref().map(NatsConfig::display_target),
        gateway_id = config.nats.as_ref().map(|nats| nats.gateway_id),
        gateway_count = config.nats.as_ref().map(|nats| nats.gateway_count),
        version = env!("CARGO_PKG_VERSION"),
        database = %config.database.display_target(),
        discord_api = %config.discord.api,
        discord_gateway = config.discord.gateway.as_ref().map(|url| url.as_str()),
        mirror = config.discord.mirror,
        commands_guild = config.discord.commands_guild,
        http_addr = %config.http_addr,
        "kakusan starting"
    );
}

/// The HTTP endpoint as started, and what it reports on.
struct Endpoint {
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    readiness: http::Readiness,
    gateway_status: kakusan_gateway::GatewayStatus,
    /// Whether this process reached NATS (a worker is ready from then on).
    bus_up: Arc<std::sync::atomic::AtomicBool>,
}

/// How long the endpoint may finish its requests after shutdown; a scraper that keeps its
/// connection open must not hold the exit up.
const ENDPOINT_GRACE: Duration = Duration::from_secs(1);

/// Installs the metrics recorder and serves `/metrics`, `/healthz` and `/readyz`. Bound
/// before the database is awaited, so that a taken port stops start-up at once and `/healthz`
/// answers while kakusan waits for the database.
async fn start_endpoint(
    config: &Config,
    role: Role,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<Endpoint> {
    let metrics = metrics::install()?;
    let listener = http::bind(config.http_addr).await?;
    let gateway_status = kakusan_gateway::GatewayStatus::default();
    let shards = gateway_status.clone();
    let bus_up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bus = Arc::clone(&bus_up);
    // A worker holds no shards: it is ready once it reached the bus (and the database).
    let ready: Arc<dyn Fn() -> bool + Send + Sync> = match role {
        Role::Worker => Arc::new(move || bus.load(std::sync::atomic::Ordering::Relaxed)),
        Role::All | Role::Gateway { .. } => Arc::new(move || shards.all_connected()),
    };
    let readiness = http::Readiness::new(ready);
    let serve = http::serve(
        listener,
        metrics.clone(),
        readiness.clone(),
        shutdown.clone(),
    );
    let stopped = shutdown.clone();
    tasks.spawn(async move {
        let grace = async {
            stopped.cancelled().await;
            tokio::time::sleep(ENDPOINT_GRACE).await;
        };
        tokio::select! {
            result = serve => if let Err(error) = result {
                tracing::warn!(error = %format!("{error:#}"), "the HTTP endpoint failed");
            },
            () = grace => {}
        }
    });
    Ok(Endpoint {
        metrics,
        readiness,
        gateway_status,
        bus_up,
    })
}

impl Endpoint {
    /// The bus answered.
    fn bus_connected(&self) {
        self.bus_up
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The database is there: `/readyz` asks it, and the queue gauges follow it.
    fn database_connected(&self, pool: &PgPool, tasks: &TaskTracker, shutdown: &CancellationToken) {
        self.readiness.database_connected(pool.clone());
        tasks.spawn(metrics::watch_queue(
            pool.clone(),
            self.metrics.clone(),
            shutdown.clone(),
        ));
    }
}

/// Starts the delivery engine; it drains (bounded) once `shutdown` is cancelled.
fn start_delivery(
    api: &url::Url,
    pool: &PgPool,
    http: &Arc<twilight_http::Client>,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let mut config = DeliveryConfig::default();
    // Attachments come from Discord's CDN, or from the API base's host when that serves them
    // (a test server, or a proxy that rewrites CDN links).
    if let Some(host) = api.host_str() {
        config.download_hosts.push(host.to_owned());
    }
    let delivery = Delivery::new(pool.clone(), Arc::clone(http), config);
    tasks.spawn(delivery.run(shutdown.clone()));
}

/// Registers the commands, opens the shards and serves until shutdown (or until the gateway
/// stops by itself).
async fn run_gateway(
    discord: &DiscordConfig,
    pool: &PgPool,
    http: Arc<twilight_http::Client>,
    endpoint: &Endpoint,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let gateway = bot::start(
        discord,
        pool.clone(),
        http,
        endpoint.gateway_status.clone(),
        tasks,
        shutdown.clone(),
    )
    .await?;
    serve_until_shutdown(gateway, shutdown).await
}

/// How long the background tasks get after shutdown (delivery drains for up to 8 s itself).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Cancels `shutdown` and waits (bounded) for every background task to stop.
async fn stop(tasks: TaskTracker, shutdown: &CancellationToken) {
    shutdown.cancel();
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks still running at exit");
    }
}

/// Runs until SIGTERM or SIGINT, or until the gateway stops by itself (which only happens for
/// a reason an operator must fix, such as a token Discord refuses).
async fn serve_until_shutdown(
    mut gateway: tokio::task::JoinHandle<anyhow::Result<()>>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!("ready; waiting for SIGTERM or SIGINT");
    let stopped = tokio::select! {
        () = shutdown.cancelled() => None,
        result = &mut gateway => Some(result),
    };
    let Some(result) = stopped else {
        tracing::info!("shutting down");
        match gateway.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!("the gateway failed while closing: {error:#}"),
            Err(error) => tracing::error!(%error, "the gateway task failed"),
        }
        return Ok(());
    };
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.context("the gateway stopped")),
        Err(error) => Err(anyhow::Error::new(error).context("the gateway task failed")),
    }
}

/// `kakusan register-commands`: registers the slash commands and exits.
async fn register_commands(guild: Option<u64>) -> anyhow::Result<()> {
    let log = LogConfig::from_vars(&ProcessEnv)?;
    let discord = DiscordConfig::from_vars(&ProcessEnv)?;
    telemetry::init(&log, Some(&discord.token));
    let guild = guild.or(discord.commands_guild);
    let http = discord_client(&discord);
    let count = bot::register(&http, guild).await?.1;
    match guild {
        Some(guild) => println!("registered {count} commands in guild {guild}"),
        None => {
            println!("registered {count} commands globally (Discord may take a while to show them)")
        }
    }
    Ok(())
}

/// The REST client, pointed at `KAKUSAN_DISCORD_API` when that is not Discord itself.
fn discord_client(config: &DiscordConfig) -> twilight_http::Client {
    // twilight's TLS needs a process-wide crypto provider; a second install is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = twilight_http::Client::builder().token(config.token.expose().to_owned());
    if let Some((host, plain_http)) = config.proxy() {
        builder = builder.proxy(host, plain_http);
    }
    builder.build()
}

/// A token cancelled by the first SIGTERM or SIGINT; a second one exits at once.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        if let Err(error) = wait_for_signal().await {
            tracing::error!(error = %error, "cannot listen for shutdown signals");
            return;
        }
        trigger.cancel();
        if wait_for_signal().await.is_ok() {
            tracing::warn!("second signal: exiting at once");
            std::process::exit(130);
        }
    });
    token
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("listening for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
