//! The order of events: one line per channel for message events (and one per member for
//! their `/here`s), each event waiting for the one before it, behind a gate that a new
//! session's catch-up closes.

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::FutureExt as _;
use futures_util::future::Shared;
use tokio::sync::oneshot;

/// A place in a line of events; dropping it lets the next one go.
pub(crate) type InLine = oneshot::Sender<()>;

/// Places in line, one line per channel: each message event waits until the one before it in
/// its channel is done. A line is a chain of one-shot channels, so a finished (or failed, or
/// panicked) event lets the next one go by dropping its sender.
///
/// A gate in front of every line holds all of them while a new session catches up.
#[derive(Default)]
pub(crate) struct Turns {
    last: Mutex<HashMap<u64, oneshot::Receiver<()>>>,
    gate: Mutex<Option<Shared<oneshot::Receiver<()>>>>,
}

/// One event's place in its channel's line.
pub(crate) struct Turn {
    gate: Option<Shared<oneshot::Receiver<()>>>,
    previous: Option<oneshot::Receiver<()>>,
    done: oneshot::Sender<()>,
}

impl Turns {
    /// A place in `line` (a channel, or a member's `/here`s), behind the gate when `gated`.
    pub(crate) fn take(&self, line: u64, gated: bool) -> Turn {
        let (done, next) = oneshot::channel();
        let previous = self
            .last
            .lock()
            .expect("turn map poisoned")
            .insert(line, next);
        let gate = gated
            .then(|| self.gate.lock().expect("gate poisoned").clone())
            .flatten();
        Turn {
            gate,
            previous,
            done,
        }
    }

    /// Closes the gate for the turns taken from now on; dropping the sender opens it.
    pub(crate) fn close_gate(&self) -> oneshot::Sender<()> {
        let (open, gate) = oneshot::channel();
        *self.gate.lock().expect("gate poisoned") = Some(gate.shared());
        open
    }
}

impl Turn {
    /// Waits until the gate is open and the event before is done; dropping the returned
    /// sender lets the next go.
    pub(crate) async fn wait(self) -> InLine {
        // Errors only mean the senders were dropped: the gate is open, the event is done.
        if let Some(gate) = self.gate {
            let _ = gate.await;
        }
        if let Some(previous) = self.previous {
            let _ = previous.await;
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn events_of_a_channel_take_their_turns_in_order_behind_the_gate() {
        let turns = Turns::default();
        let gate = turns.close_gate();
        let first = turns.take(1, true);
        let second = turns.take(1, true);
        let other_channel = turns.take(2, true);
        let order = Arc::new(Mutex::new(Vec::new()));
        let run = |turn: Turn, name: &'static str| {
            let order = Arc::clone(&order);
            tokio::spawn(async move {
                let done = turn.wait().await;
                order.lock().unwrap().push(name);
                drop(done);
            })
        };
        // Started in the wrong order, and all held by the gate.
        let second = run(second, "second");
        let other = run(other_channel, "other");
        tokio::task::yield_now().await;
        assert!(
            order.lock().unwrap().is_empty(),
            "the gate holds every line"
        );
        let first = run(first, "first");
        drop(gate);
        for task in [second, other, first] {
            task.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        let position = |name| order.iter().position(|n| *n == name).unwrap();
        assert!(position("first") < position("second"), "{order:?}");
    }
}
