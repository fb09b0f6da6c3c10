//! Operating the `kakusan` binary (issue 7): the HTTP endpoint and its metrics, a database
//! outage while running, SIGTERM in the middle of a fan-out, `kakusan check`, and no token in
//! the log. Each test runs the compiled binary against `discord-sim`, with a database of its
//! own.

mod check;
mod crash;
mod endpoint;
mod logs;
mod outage;
mod shutdown;

use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use discord_sim::DiscordSim;
use kakusan_delivery::{RelayJob, SendPayload, enqueue_send};
use kakusan_storage::PgPool;
use kakusan_testkit::delivery::{Dest, MEMBER};
use kakusan_testkit::process::{Binary, http_addr, stderr_lines};

/// The binary under test; Cargo names its path only to this package's own tests.
const KAKUSAN: Binary = Binary::new(env!("CARGO_BIN_EXE_kakusan"));

/// A running `kakusan run`, killed if the test ends without stopping it.
pub(crate) struct Running {
    pub(crate) child: Child,
    /// Its log lines (JSON), as they come.
    pub(crate) lines: mpsc::Receiver<String>,
    /// Its HTTP endpoint.
    pub(crate) addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Running {
    /// Starts `kakusan run` on `database_url` against `sim` with `token` and waits until its
    /// HTTP endpoint listens (on a port of its choosing, see [`Binary::command`]).
    pub(crate) fn start(database_url: &str, sim: &DiscordSim, token: &str) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let mut child = KAKUSAN
            .command(&dir)
            .arg("run")
            .env("DISCORD_TOKEN", token)
            .env("DATABASE_URL", database_url)
            .env("KAKUSAN_DISCORD_API", sim.api_url())
            .env("KAKUSAN_DISCORD_GATEWAY", sim.gateway_url())
            .env("KAKUSAN_LOG_FORMAT", "json")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = stderr_lines(&mut child);
        let (addr, _) = http_addr(&lines);
        Running {
            child,
            lines,
            addr,
            _dir: dir,
        }
    }

    /// Every log line that arrived since the last call.
    pub(crate) fn drain_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Enqueues message `1..=messages` to each destination, as the fan-out of a relay writes them;
/// `not_before` schedules them.
pub(crate) async fn fan_out(
    pool: &PgPool,
    destinations: &[Dest],
    messages: u64,
    not_before: Option<DateTime<Utc>>,
) {
    let mut connection = pool.acquire().await.unwrap();
    for message in 1..=messages {
        for destination in destinations {
            let job = RelayJob {
                server_guild_id: 100,
                destination_id: destination.id,
                webhook_id: destination.webhook_id,
                member_id: MEMBER,
                source_message_id: message,
                relay_id: None,
            };
            let payload = SendPayload {
                content: format!("relay {message}"),
                username: "Hanako (alpha)".into(),
                avatar_url: None,
                attachments: Vec::new(),
            };
            enqueue_send(&mut connection, &job, &payload, not_before)
                .await
                .unwrap();
        }
    }
}

/// The messages a destination channel shows, in order.
pub(crate) fn live_contents(sim: &DiscordSim, channel_id: u64) -> Vec<String> {
    sim.messages(channel_id)
        .into_iter()
        .filter(|message| !message.deleted)
        .map(|message| message.content)
        .collect()
}

/// How many messages all destinations show together.
pub(crate) fn delivered(sim: &DiscordSim, destinations: &[Dest]) -> usize {
    destinations
        .iter()
        .map(|destination| live_contents(sim, destination.channel_id).len())
        .sum()
}
