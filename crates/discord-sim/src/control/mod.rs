//! The control API on [`SimHandle`] (which [`crate::DiscordSim`] derefs to): build the world,
//! act as a member, inject faults and read back what the simulator saw. Tests use it directly;
//! the binary exposes it over HTTP.
//!
//! Each area is a file with an `impl SimHandle` block and the types its methods take:
//! `setup` (applications, guilds, channels, roles, members, bots), `posting` (a member's
//! messages and uploads), `interactions` (commands, autocomplete, buttons and the answers to
//! them), `faults` (scripted faults, rate limits, the interaction deadline), `sessions` (the
//! gateway's sessions and handshakes) and `readback` (calls, counters, messages, webhooks).
//! This file holds the handle, its access to the world and the checks every member action
//! makes; the areas depend on it and, for `Upload`, `interactions` on `posting`.

mod faults;
mod interactions;
mod posting;
mod readback;
mod sessions;
mod setup;

use std::sync::Arc;
use std::time::Duration;

use crate::error::SimError;
use crate::shared::Shared;
use crate::world::World;

pub use faults::Fault;
pub use interactions::{CommandInvocation, CommandOptionValue, InteractionRef};
pub use posting::{MessageDraft, Upload};
pub use setup::AppCredentials;

/// A cheap, clonable handle on a running simulator's world: the control API.
///
/// [`crate::DiscordSim`] derefs to it, so tests call `sim.create_guild(...)`; clone it with
/// [`crate::DiscordSim::handle`] to drive the simulator from another task.
#[derive(Debug, Clone)]
pub struct SimHandle {
    pub(crate) shared: Arc<Shared>,
}

impl SimHandle {
    /// Runs `f` on the locked world, then wakes whoever waits in [`SimHandle::wait`], since a
    /// control call may have changed what they wait for.
    fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let result = {
            let mut world = self.shared.lock();
            f(&mut world)
        };
        self.shared.notify();
        result
    }

    /// Polls `check` whenever the world changes until it returns Some or `timeout` passes.
    pub(crate) async fn wait<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&World) -> Option<T>,
    ) -> Result<T, SimError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(value) = check(&self.shared.lock()) {
                return Ok(value);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(SimError::Timeout(what.to_owned()));
            }
        }
    }
}

/// Checks the user holds `needed` in the channel, as Discord's client would before letting
/// them act there.
fn require_member_permissions(
    world: &World,
    channel_id: u64,
    user_id: u64,
    needed: u64,
) -> Result<(), SimError> {
    let held = world.channel_permissions(channel_id, user_id);
    if held & needed != needed {
        return Err(SimError::Invalid(format!(
            "the member lacks permissions {:#x} in the channel",
            needed & !held
        )));
    }
    Ok(())
}

/// Checks the user can act in the channel; returns its guild.
fn member_in_channel(
    world: &World,
    channel_id: u64,
    user_id: u64,
) -> Result<Option<u64>, SimError> {
    let channel = world
        .channels
        .get(&channel_id)
        .ok_or(SimError::Unknown("channel"))?;
    match channel.guild_id {
        Some(guild) => {
            let guild = world.guilds.get(&guild).ok_or(SimError::Unknown("guild"))?;
            if !guild.members.contains_key(&user_id) {
                return Err(SimError::Invalid(
                    "the user is not a member of the channel's guild".into(),
                ));
            }
            Ok(Some(guild.id))
        }
        None if channel.recipients.contains(&user_id) => Ok(None),
        None => Err(SimError::Invalid("the user is not in this DM".into())),
    }
}
