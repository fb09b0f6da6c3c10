//! `/ping`s waiting for their pong: the command registers a waiter, the inbound side hands
//! the pong's arrival time to it.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use kakusan_protocol::Nonce;
use tokio::sync::oneshot;

/// Where the arrival time of an awaited pong goes.
type Waiter = oneshot::Sender<DateTime<Utc>>;

/// The pings of this process still waiting, by local server and nonce. A pong that reaches
/// another process of the deployment finds no waiter here; it only touches the peer's "last
/// seen".
#[derive(Default)]
pub(crate) struct Pings {
    waiting: Mutex<HashMap<(u64, Nonce), Waiter>>,
}

impl Pings {
    /// Waits for the pong to `nonce` from our server in `guild`: the receiver gets its arrival
    /// time. Call [`Pings::forget`] when done waiting.
    pub(crate) fn expect(&self, guild: u64, nonce: Nonce) -> oneshot::Receiver<DateTime<Utc>> {
        let (waiter, answer) = oneshot::channel();
        self.map().insert((guild, nonce), waiter);
        answer
    }

    /// Stops waiting (the pong came, or the wait ran out).
    pub(crate) fn forget(&self, guild: u64, nonce: Nonce) {
        self.map().remove(&(guild, nonce));
    }

    /// A pong arrived now.
    pub(crate) fn arrived(&self, guild: u64, nonce: Nonce) {
        if let Some(waiter) = self.map().remove(&(guild, nonce)) {
            let _ = waiter.send(Utc::now());
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, Nonce), Waiter>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
