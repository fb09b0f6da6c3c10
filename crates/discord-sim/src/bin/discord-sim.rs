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
    /// Instead of the one app and guild above, create this many federation deployments: each
    /// an app in a guild of its own (`alpha`, `beta`, ...) with an admin, a `bot-com` and a
    /// `times-hanako` channel, and the member hanako in every guild.
    #[arg(long, env = "DISCORD_SIM_DEPLOYMENTS", value_parser = clap::value_parser!(u8).range(1..=6))]
    deployments: Option<u8>,
}

/// The guild names of `--deployments`.
const FEDERATION: [&str; 6] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];

/// The bot permissions kakusan's README asks for in its invite URL.
const INVITE_PERMISSIONS: u64 = 536_988_672;

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
    println!("DISCORD_SIM_API={}", sim.api_url());
    println!("DISCORD_SIM_GATEWAY={}", sim.gateway_url());
    match args.deployments {
        Some(count) => federation(&sim, usize::from(count), args.message_content)?,
        None => single(&sim, &args)?,
    }
    println!("# control API: {}/_sim/", sim.api_url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    sim.shutdown().await;
    Ok(())
}

/// One app in one guild with one channel, for trying a bot.
fn single(sim: &DiscordSim, args: &Args) -> anyhow::Result<()> {
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
    println!("DISCORD_TOKEN={}", app.token);
    println!("APPLICATION_ID={}", app.id);
    println!("GUILD_ID={guild}");
    println!("CHANNEL_ID={channel}");
    println!("MEMBER_ID={owner}");
    Ok(())
}

/// Several deployments of a federation, each with its own app and guild, and one member in
/// all of them. Prints shell assignments prefixed with the upper-case guild name.
fn federation(sim: &DiscordSim, count: usize, message_content: bool) -> anyhow::Result<()> {
    let hanako = sim.create_user("hanako");
    println!("MEMBER_ID={hanako}");
    for name in &FEDERATION[..count] {
        let app = sim.create_application_with(&format!("kakusan-{name}"), message_content);
        let admin = sim.create_user(&format!("admin-{name}"));
        let guild = sim.create_guild(name, admin).context("creating a guild")?;
        let botcom = sim
            .create_channel(guild, "bot-com")
            .context("creating a channel")?;
        let times = sim
            .create_channel(guild, "times-hanako")
            .context("creating a channel")?;
        sim.add_bot(guild, app.id, INVITE_PERMISSIONS)
            .context("adding the bot")?;
        sim.add_member(guild, hanako, &[])
            .context("adding hanako")?;
        let prefix = name.to_uppercase();
        println!("{prefix}_DISCORD_TOKEN={}", app.token);
        println!("{prefix}_APPLICATION_ID={}", app.id);
        println!("{prefix}_GUILD_ID={guild}");
        println!("{prefix}_ADMIN_ID={admin}");
        println!("{prefix}_BOTCOM_ID={botcom}");
        println!("{prefix}_TIMES_ID={times}");
    }
    Ok(())
}
