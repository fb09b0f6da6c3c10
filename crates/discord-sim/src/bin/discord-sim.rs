//! Runs the simulator on its own for manual trials: prints its URLs and a ready bot token.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use discord_sim::{DiscordSim, SimConfig};

/// A Discord REST and gateway simulator for trying bots locally.
#[derive(Debug, Parser)]
struct Args {
    /// The address to listen on.
    #[arg(long, env = "DISCORD_SIM_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// The name of the bot application created at start-up.
    #[arg(long, env = "DISCORD_SIM_APP_NAME", default_value = "kakusan")]
    app_name: String,
    /// The name of the guild created at start-up.
    #[arg(long, env = "DISCORD_SIM_GUILD_NAME", default_value = "sim-guild")]
    guild_name: String,
    /// The name of the text channel created in that guild.
    #[arg(long, env = "DISCORD_SIM_CHANNEL_NAME", default_value = "times-alice")]
    channel_name: String,
    /// Whether the app's message-content intent is enabled.
    #[arg(long, env = "DISCORD_SIM_MESSAGE_CONTENT", default_value_t = true, action = clap::ArgAction::Set)]
    message_content: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("DISCORD_SIM_LOG"))
        .init();
    let args = Args::parse();
    let config = SimConfig {
        bind: args.bind,
        ..SimConfig::default()
    };
    let sim = DiscordSim::start(config)
        .await
        .context("starting the simulator")?;
    let app = sim.create_application_with(&args.app_name, args.message_content);
    let owner = sim.create_user("alice");
    let guild = sim
        .create_guild(&args.guild_name, owner)
        .context("creating the guild")?;
    let channel = sim
        .create_channel(guild, &args.channel_name)
        .context("creating the channel")?;
    sim.add_bot(guild, app.id, discord_sim::ADMINISTRATOR)
        .context("adding the bot")?;
    println!("DISCORD_SIM_API={}", sim.api_url());
    println!("DISCORD_SIM_GATEWAY={}", sim.gateway_url());
    println!("DISCORD_TOKEN={}", app.token);
    println!("APPLICATION_ID={}", app.id);
    println!("GUILD_ID={guild}");
    println!("CHANNEL_ID={channel}");
    println!("MEMBER_ID={owner}");
    println!("control API: {}/_sim/", sim.api_url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    sim.shutdown().await;
    Ok(())
}
