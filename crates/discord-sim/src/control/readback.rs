//! Reading back what the simulator saw: recorded REST calls and per-client counters, messages,
//! webhooks, commands and guilds as stored, and waiting for any of them without sleeping.

use std::time::Duration;

use serde_json::Value;

use crate::error::SimError;
use crate::world::{
    Channel, ClientId, ClientStats, Command, Guild, Message, RecordedCall, Webhook,
};

use super::SimHandle;

impl SimHandle {
    /// Every REST call received so far, oldest first.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        self.with_world(|world| world.calls.clear());
    }

    /// Waits for a recorded call that satisfies `predicate`.
    pub async fn wait_for_call(
        &self,
        timeout: Duration,
        predicate: impl Fn(&RecordedCall) -> bool,
    ) -> Result<RecordedCall, SimError> {
        self.wait(timeout, "a REST call", |world| {
            world.calls.iter().find(|c| predicate(c)).cloned()
        })
        .await
    }

    /// Counters for one client.
    pub fn client_stats(&self, client: ClientId) -> ClientStats {
        self.shared
            .lock()
            .stats
            .get(&client)
            .copied()
            .unwrap_or_default()
    }

    /// Counters for every client seen so far.
    pub fn all_client_stats(&self) -> Vec<(ClientId, ClientStats)> {
        let world = self.shared.lock();
        world.stats.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Every message in a channel, oldest first, deleted and ephemeral ones included.
    pub fn messages(&self, channel_id: u64) -> Vec<Message> {
        let world = self.shared.lock();
        world
            .messages
            .values()
            .filter(|m| m.channel_id == channel_id)
            .cloned()
            .collect()
    }

    /// One channel (or thread) as stored, with a thread's archived and locked state.
    pub fn channel(&self, channel_id: u64) -> Option<Channel> {
        self.shared.lock().channels.get(&channel_id).cloned()
    }

    /// One message by id.
    pub fn message(&self, message_id: u64) -> Option<Message> {
        self.shared.lock().messages.get(&message_id).cloned()
    }

    /// The message JSON exactly as the REST API would return it.
    pub fn message_json(&self, message_id: u64) -> Option<Value> {
        let world = self.shared.lock();
        world
            .messages
            .get(&message_id)
            .map(|m| world.message_json(m))
    }

    /// Waits for a message in a channel that satisfies `predicate`.
    pub async fn wait_for_message(
        &self,
        channel_id: u64,
        timeout: Duration,
        predicate: impl Fn(&Message) -> bool,
    ) -> Result<Message, SimError> {
        self.wait(timeout, "a message", |world| {
            world
                .messages
                .values()
                .find(|m| m.channel_id == channel_id && predicate(m))
                .cloned()
        })
        .await
    }

    /// The webhooks of a channel.
    pub fn webhooks(&self, channel_id: u64) -> Vec<Webhook> {
        let world = self.shared.lock();
        world
            .webhooks
            .values()
            .filter(|w| w.channel_id == channel_id)
            .cloned()
            .collect()
    }

    /// The commands registered by an app, globally (None) or in a guild.
    pub fn commands(&self, application_id: u64, guild_id: Option<u64>) -> Vec<Command> {
        let world = self.shared.lock();
        world
            .commands
            .iter()
            .filter(|c| c.application_id == application_id && c.guild_id == guild_id)
            .cloned()
            .collect()
    }

    /// A guild as stored.
    pub fn guild(&self, guild_id: u64) -> Option<Guild> {
        self.shared.lock().guilds.get(&guild_id).cloned()
    }
}
