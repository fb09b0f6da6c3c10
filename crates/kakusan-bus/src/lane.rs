//! A lane's consumer and the events it hands out.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use bytes::Bytes;
use futures_util::StreamExt as _;

use crate::{BusError, Lane};

/// The durable consumer of one lane. Any number of workers may hold one; the server hands out
/// the lane's next event only after the one before was acknowledged.
pub struct LaneConsumer {
    lane: Lane,
    consumer: PullConsumer,
}

impl LaneConsumer {
    pub(crate) fn new(lane: Lane, consumer: PullConsumer) -> Self {
        Self { lane, consumer }
    }

    /// Which lane this is.
    pub fn lane(&self) -> Lane {
        self.lane
    }

    /// The lane's next event, or `None` when none came within `wait`. The pull request expires
    /// after `wait`, so a worker that stops asking is no longer handed events soon after.
    ///
    /// # Errors
    ///
    /// When NATS does not answer the pull request.
    pub async fn next(&self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        let mut batch = self
            .consumer
            .fetch()
            .max_messages(1)
            .expires(wait)
            .messages()
            .await
            .map_err(|error| BusError::jetstream("asking for the next event", error))?;
        match batch.next().await {
            Some(Ok(message)) => Ok(Some(Delivery { message })),
            Some(Err(error)) => Err(BusError::jetstream("receiving an event", error)),
            None => Ok(None),
        }
    }
}

/// One event handed to this worker; it must be acknowledged ([`Delivery::ack`]) once handled,
/// or it is handed out again after the consumer's `ack_wait`.
pub struct Delivery {
    message: jetstream::Message,
}

impl Delivery {
    /// The subject it was published on.
    pub fn subject(&self) -> &str {
        self.message.subject.as_str()
    }

    /// Discord's name of the event type, `MESSAGE_CREATE`, read back from the subject.
    pub fn event_type(&self) -> String {
        event_type_of(self.subject())
    }

    /// The dispatch's JSON.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// How often it has been handed out, this time included.
    pub fn attempts(&self) -> i64 {
        self.message.info().map(|info| info.delivered).unwrap_or(1)
    }

    /// Tells the server the worker is still at it, restarting the `ack_wait`.
    ///
    /// # Errors
    ///
    /// When NATS cannot be reached.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Progress)
            .await
            .map_err(|error| BusError::jetstream("extending an event's ack wait", error))
    }

    /// Acknowledges it and waits for the server to confirm, so the lane's next event is not
    /// handed out before this one is done.
    ///
    /// # Errors
    ///
    /// When the server did not confirm; the event may then be handed out again.
    pub async fn ack(&self) -> Result<(), BusError> {
        self.message
            .double_ack()
            .await
            .map_err(|error| BusError::jetstream("acknowledging an event", error))
    }

    /// Hands it back to be tried again after `delay`; the lane waits for it.
    ///
    /// # Errors
    ///
    /// When NATS cannot be reached (it is then handed out again after `ack_wait`).
    pub async fn retry(&self, delay: Duration) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|error| BusError::jetstream("handing an event back", error))
    }

    /// Removes it from its lane for good (it went to the dead-letter stream).
    pub(crate) async fn give_up(&self) -> Result<(), BusError> {
        self.message
            .double_ack_with(AckKind::Term)
            .await
            .map_err(|error| BusError::jetstream("removing a dead event", error))
    }
}

/// `gateway.0.main.42.message.create.7` → `MESSAGE_CREATE`; `gateway.0.main.42.ready` →
/// `READY`. The first four tokens are the prefix, gateway, group and application; a last token
/// of digits is the partition.
pub(crate) fn event_type_of(subject: &str) -> String {
    let mut tokens: Vec<&str> = subject.split('.').skip(4).collect();
    if tokens
        .last()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
    {
        tokens.pop();
    }
    tokens.join("_").to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_type_is_read_back_from_the_subject() {
        assert_eq!(
            event_type_of("gateway.0.main.42.message.create.7"),
            "MESSAGE_CREATE"
        );
        assert_eq!(
            event_type_of("gateway.1.main.42.interaction.create.15"),
            "INTERACTION_CREATE"
        );
        assert_eq!(event_type_of("gateway.0.main.42.ready"), "READY");
    }
}
