//! Registering the slash commands with Discord: one bulk overwrite, globally or in one guild.
//!
//! A bulk overwrite replaces the application's whole command list, so commands that kakusan no
//! longer defines disappear, and commands that keep their name keep their id. Guild
//! registration shows changes at once and suits development; global registration is what a
//! deployment uses.

use twilight_http::{Client, response::DeserializeBodyError};
use twilight_model::{
    application::command::Command,
    id::{
        Id,
        marker::{ApplicationMarker, GuildMarker},
    },
};

use crate::model::definitions;

/// Why the commands could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Discord (or the way there) refused the overwrite.
    #[error("Discord did not accept kakusan's slash commands {scope}")]
    Request {
        /// `globally` or `in guild <id>`.
        scope: String,
        /// The HTTP error, with Discord's code and message when it answered.
        #[source]
        source: twilight_http::Error,
    },
    /// Discord accepted the overwrite but its answer could not be read.
    #[error("Discord's answer to registering kakusan's slash commands {scope} could not be read")]
    Body {
        /// `globally` or `in guild <id>`.
        scope: String,
        /// The deserialisation error.
        #[source]
        source: DeserializeBodyError,
    },
}

/// Overwrites the application's commands with [`definitions`], in `guild` if given, else
/// globally, and returns the commands as Discord stored them (with their ids).
#[tracing::instrument(skip(http))]
pub async fn register(
    http: &Client,
    application_id: Id<ApplicationMarker>,
    guild: Option<Id<GuildMarker>>,
) -> Result<Vec<Command>, RegisterError> {
    let commands = definitions();
    let interaction = http.interaction(application_id);
    let (scope, response) = match guild {
        Some(guild) => (
            format!("in guild {guild}"),
            interaction.set_guild_commands(guild, &commands).await,
        ),
        None => (
            "globally".to_owned(),
            interaction.set_global_commands(&commands).await,
        ),
    };
    let response = match response {
        Ok(response) => response,
        Err(source) => return Err(RegisterError::Request { scope, source }),
    };
    let registered = match response.models().await {
        Ok(registered) => registered,
        Err(source) => return Err(RegisterError::Body { scope, source }),
    };
    tracing::info!(count = registered.len(), "registered slash commands");
    Ok(registered)
}
