//! Gateway sessions: asking connections to reconnect or start over, expiring closed sessions,
//! the record of every IDENTIFY and RESUME, and waiting for sessions to come and go.

use std::time::Duration;

use crate::error::SimError;
use crate::gateway;
use crate::world::Handshake;

use super::SimHandle;

impl SimHandle {
    /// Sends op 7 RECONNECT to the app's connected sessions; returns how many.
    pub fn reconnect(&self, application_id: u64) -> usize {
        self.with_world(|world| gateway::send_reconnect(world, application_id))
    }

    /// Sends op 9 INVALID_SESSION to the app's connected sessions; returns how many.
    pub fn invalidate_sessions(&self, application_id: u64, resumable: bool) -> usize {
        self.with_world(|world| gateway::send_invalid_session(world, application_id, resumable))
    }

    /// Forgets the app's sessions that have no live connection, as Discord does when a closed
    /// session is not resumed in time; returns how many. A later RESUME of one of them gets
    /// INVALID_SESSION (op 9, `false`).
    pub fn expire_sessions(&self, application_id: u64) -> usize {
        self.with_world(|world| gateway::expire_sessions(world, application_id))
    }

    /// Makes `GET /gateway/bot` recommend `shards` shards to the app (1 by default); guild
    /// events then go only to the shard of their guild, `(guild_id >> 22) % shards`.
    pub fn set_recommended_shards(&self, application_id: u64, shards: u32) {
        self.with_world(|world| {
            world
                .recommended_shards
                .insert(application_id, shards.max(1));
        });
    }

    /// Every IDENTIFY and RESUME the app's connections sent, oldest first.
    pub fn handshakes(&self, application_id: u64) -> Vec<Handshake> {
        let world = self.shared.lock();
        world
            .handshakes
            .get(&application_id)
            .cloned()
            .unwrap_or_default()
    }

    /// How many gateway connections of the app are live and identified (or resumed).
    pub fn connected_sessions(&self, application_id: u64) -> usize {
        let world = self.shared.lock();
        world
            .sessions
            .values()
            .filter(|s| s.app_id == application_id && s.tx.is_some())
            .count()
    }

    /// Waits until the app has at least `count` live sessions.
    pub async fn wait_for_sessions(
        &self,
        application_id: u64,
        count: usize,
        timeout: Duration,
    ) -> Result<(), SimError> {
        self.wait(timeout, "gateway sessions", |world| {
            (world
                .sessions
                .values()
                .filter(|s| s.app_id == application_id && s.tx.is_some())
                .count()
                >= count)
                .then_some(())
        })
        .await
    }

    /// Waits until the app has no session left, live or kept for resuming.
    pub async fn wait_for_sessions_closed(
        &self,
        application_id: u64,
        timeout: Duration,
    ) -> Result<(), SimError> {
        self.wait(timeout, "sessions to close", |world| {
            (!world.sessions.values().any(|s| s.app_id == application_id)).then_some(())
        })
        .await
    }
}
