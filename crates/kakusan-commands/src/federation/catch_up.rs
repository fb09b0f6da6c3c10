//! Envelopes that arrived while no session was connected, read back from the bot-com
//! channels' history at READY (Discord does not send those events again).

use anyhow::Context as _;
use chrono::Utc;
use kakusan_protocol::MAX_CLOCK_SKEW;
use kakusan_storage::servers::{self, Server};
use twilight_model::id::Id;

use super::inbound::Inbound;
use crate::error::{Outcome, through_outage};

impl Inbound {
    /// Reads, for every server in `guilds` (those of the shard that became READY), the
    /// envelopes that arrived in its bot-com channel while no session was connected. Runs at
    /// READY, before any message event of the new session; a failure is logged and the
    /// session goes on.
    pub(crate) async fn catch_up(&self, guilds: &[u64]) {
        let servers = match servers::list_servers(&self.ctx.pool).await {
            Ok(servers) => servers,
            Err(error) => {
                tracing::warn!(%error, "could not look for envelopes that arrived while away");
                return;
            }
        };
        for server in servers {
            if !guilds.contains(&server.guild_id) {
                continue;
            }
            let name = server.name.clone();
            match self.catch_up_server(server).await {
                Ok(0) => {}
                Ok(read) => {
                    tracing::info!(server = %name, read, "read envelopes that arrived while away")
                }
                Err(error) => tracing::warn!(
                    server = %name,
                    "could not read the envelopes that arrived while away: {error:#}"
                ),
            }
        }
    }

    async fn catch_up_server(&self, server: Server) -> Outcome<usize> {
        let channel = Id::new_checked(server.botcom_channel_id).context("a stored channel id")?;
        let after = server
            .envelopes_read_until
            .unwrap_or(server.master_webhook_id);
        let history = self.ctx.history_after(channel, after).await?;
        // What the timestamp check would refuse anyway is passed over quietly rather than
        // reported line by line (the first catch-up after an upgrade reads from /setup on).
        let oldest = Utc::now().timestamp() - MAX_CLOCK_SKEW.num_seconds();
        let mut read = 0;
        for message in &history {
            if message.webhook_id.map(Id::get) == Some(server.master_webhook_id)
                && message.timestamp.as_secs() >= oldest
            {
                through_outage(|| self.envelope_message(server.clone(), message)).await?;
                read += 1;
            }
        }
        if let Some(newest) = history.last() {
            servers::advance_envelope_cursor(&self.ctx.pool, server.guild_id, newest.id.get())
                .await?;
        }
        Ok(read)
    }
}
