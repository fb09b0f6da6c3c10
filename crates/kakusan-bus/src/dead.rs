//! The dead-letter stream: events that failed [`crate::MAX_DELIVER`] times, for the operator to
//! look at (`kakusan dlq list`) and replay (`kakusan dlq replay`).

use async_nats::jetstream::message::PublishMessage as Publish;
use bytes::Bytes;

use crate::{Bus, BusError, ERROR_HEADER, SUBJECT_HEADER};

/// One event that kept failing.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its sequence in the dead-letter stream; `replay` takes it.
    pub sequence: u64,
    /// The subject it was published on (and is replayed to).
    pub subject: String,
    /// The last error it met.
    pub error: String,
    /// When it was given up, in RFC 3339.
    pub given_up_at: String,
    /// The dispatch's JSON.
    pub payload: Bytes,
}

impl Bus {
    /// The dead letters of this group and application, oldest first.
    ///
    /// # Errors
    ///
    /// When the dead-letter stream cannot be read.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BusError> {
        let mut stream = self
            .jetstream
            .get_stream(self.dead_stream())
            .await
            .map_err(|error| BusError::jetstream("opening the dead-letter stream", error))?;
        let info = stream
            .info()
            .await
            .map_err(|error| BusError::jetstream("reading the dead-letter stream", error))?;
        let (first, last) = (info.state.first_sequence, info.state.last_sequence);
        let mine = format!("{}_dlq.{}.{}", self.prefix, self.group, self.application);
        let mut letters = Vec::new();
        if info.state.messages == 0 {
            return Ok(letters);
        }
        for sequence in first..=last {
            // A replayed letter was deleted; its sequence is a gap.
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            if message.subject.as_str() != mine {
                continue;
            }
            let header = |name: &str| {
                message
                    .headers
                    .get(name)
                    .map(|value| value.as_str().to_owned())
                    .unwrap_or_default()
            };
            letters.push(DeadLetter {
                sequence,
                subject: header(SUBJECT_HEADER),
                error: header(ERROR_HEADER),
                given_up_at: message
                    .time
                    .format(&time_format())
                    .unwrap_or_else(|_| message.time.to_string()),
                payload: message.payload,
            });
        }
        Ok(letters)
    }

    /// Publishes dead letter `sequence` again on its subject, for the workers to try once more,
    /// and removes it from the dead-letter stream. Returns `false` if there is no such letter.
    ///
    /// # Errors
    ///
    /// When the streams cannot be reached; the letter then stays.
    pub async fn replay(&self, sequence: u64) -> Result<bool, BusError> {
        let Some(letter) = self
            .dead_letters()
            .await?
            .into_iter()
            .find(|letter| letter.sequence == sequence)
        else {
            return Ok(false);
        };
        // No de-duplication id: the original's id would make the stream drop it within the
        // duplicate window, and a replay is meant to be stored.
        self.jetstream
            .send_publish(letter.subject, Publish::build().payload(letter.payload))
            .await
            .map_err(|error| BusError::jetstream("replaying a dead letter", error))?
            .await
            .map_err(|error| BusError::jetstream("storing a replayed event", error))?;
        self.jetstream
            .get_stream(self.dead_stream())
            .await
            .map_err(|error| BusError::jetstream("opening the dead-letter stream", error))?
            .delete_message(sequence)
            .await
            .map_err(|error| BusError::jetstream("removing a replayed dead letter", error))?;
        Ok(true)
    }
}

fn time_format() -> time::format_description::well_known::Rfc3339 {
    time::format_description::well_known::Rfc3339
}
