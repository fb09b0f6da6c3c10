//! The `kakusan` binary: configuration -> telemetry -> build -> run until shutdown.

mod bot;
mod config;
mod database;
mod telemetry;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kakusan_relay::delivery::{Delivery, DeliveryConfig};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, DatabaseConfig, DiscordConfig, LogConfig, ProcessEnv};

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
        Command::Run => run().await,
        Command::Migrate => migrate().await,
    }
}

async fn migrate() -> anyhow::Result<()> {
    let log = LogConfig::from_vars(&ProcessEnv)?;
    let database = DatabaseConfig::from_vars(&ProcessEnv)?;
    telemetry::init(&log);
    let shutdown = shutdown_on_signal();
    if database::connect_and_migrate(&database, &shutdown)
        .await?
        .is_none()
    {
        tracing::info!("stopped before the database answered; nothing was changed");
    }
    Ok(())
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_vars(&ProcessEnv)?;
    telemetry::init(&config.log);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        database = %config.database.display_target(),
        discord_api = %config.discord.api,
        discord_gateway = config.discord.gateway.as_ref().map(|url| url.as_str()),
        mirror = config.discord.mirror,
        commands_guild = config.discord.commands_guild,
        http_addr = %config.http_addr,
        "kakusan starting"
    );
    let shutdown = shutdown_on_signal();
    let Some(pool) = database::connect_and_migrate(&config.database, &shutdown).await? else {
        tracing::info!("stopped before the database answered");
        return Ok(());
    };
    let http = Arc::new(discord_client(&config.discord));
    let delivery = Delivery::new(pool.clone(), Arc::clone(&http), DeliveryConfig::default());
    let delivery = tokio::spawn(delivery.run(shutdown.clone()));
    let gateway_status = kakusan_gateway::GatewayStatus::default();
    let gateway = bot::start(
        &config.discord,
        pool.clone(),
        http,
        gateway_status.clone(),
        shutdown.clone(),
    )
    .await;
    let mut gateway = match gateway {
        Ok(gateway) => gateway,
        Err(error) => {
            shutdown.cancel();
            let _ = delivery.await;
            return Err(error);
        }
    };
    tracing::info!("ready; waiting for SIGTERM or SIGINT");
    tokio::select! {
        () = shutdown.cancelled() => {}
        result = &mut gateway => {
            // The gateway only stops by itself for a reason an operator must fix.
            shutdown.cancel();
            let _ = delivery.await;
            return match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(error.context("the gateway stopped")),
                Err(error) => Err(anyhow::Error::new(error).context("the gateway task failed")),
            };
        }
    }
    tracing::info!("shutting down");
    match gateway.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!("the gateway failed while closing: {error:#}"),
        Err(error) => tracing::error!(%error, "the gateway task failed"),
    }
    if let Err(error) = delivery.await {
        tracing::error!(%error, "the delivery engine failed");
    }
    pool.close().await;
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
