//! `kakusan dlq list|replay`: the events workers gave up on, for the operator.

use clap::Subcommand;

use crate::config::{DiscordConfig, LogConfig, NatsConfig, ProcessEnv};

/// What to do with the dead letters.
#[derive(Debug, Subcommand)]
pub(crate) enum Action {
    /// One line per dead letter: its number, when it was given up, its subject and its error.
    List,
    /// Publish a dead letter again for the workers, and remove it from the list.
    Replay {
        /// The dead letter's number, as `list` shows it.
        sequence: u64,
    },
}

pub(crate) async fn run(action: Action) -> anyhow::Result<()> {
    let log = LogConfig::from_vars(&ProcessEnv)?;
    let discord = DiscordConfig::from_vars(&ProcessEnv)?;
    let nats = NatsConfig::from_vars(&ProcessEnv)?;
    let nats = NatsConfig::required(nats.as_ref())?;
    crate::telemetry::init(&log, Some(&discord.token));
    // The subjects carry the application's id; the token says which it is.
    let http = crate::discord_client(&discord);
    let application = crate::bot::application_id(&http).await?;
    let bus = crate::connect_bus(nats, application).await?;
    match action {
        Action::List => {
            let letters = bus.dead_letters().await?;
            if letters.is_empty() {
                println!("no dead letters");
            }
            for letter in letters {
                println!(
                    "{}\t{}\t{}\t{}",
                    letter.sequence, letter.given_up_at, letter.subject, letter.error
                );
            }
        }
        Action::Replay { sequence } => {
            if bus.replay(sequence).await? {
                println!("dead letter {sequence} published again");
            } else {
                anyhow::bail!("there is no dead letter {sequence} (see `kakusan dlq list`)");
            }
        }
    }
    Ok(())
}
