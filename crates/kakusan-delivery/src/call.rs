//! The Discord calls: what each job asks of Discord, and what a successful call leaves to
//! record.

use std::sync::Arc;

use kakusan_storage::outbox::{ClaimedDestination, ClaimedJob, Endpoint, Job, Operation, Webhook};
use twilight_model::channel::message::AllowedMentions;
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

use crate::classify::Failure;
use crate::download::Downloads;
use crate::pacing::Pacing;
use crate::payload::{EditPayload, EnvelopePayload, SendPayload};

/// What a successful call leaves to record.
pub(crate) enum Done {
    /// A copy was created: remember where.
    Copied {
        destination: i64,
        source: u64,
        copy: u64,
    },
    /// The copy was deleted, or was found gone already (`gone`): forget it.
    Uncopied {
        destination: i64,
        source: u64,
        gone: bool,
    },
    /// The call was made; nothing to record.
    Delivered,
    /// No call was made: the destination, the peer or the copy no longer exists.
    Gone,
}

/// How a message a webhook posted was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deleted {
    /// By this call.
    Now,
    /// Before it: Discord knows the message no more.
    Before,
}

impl Done {
    /// The `outcome` label of `kakusan_deliveries_total`.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Done::Copied { .. } | Done::Uncopied { gone: false, .. } | Done::Delivered => {
                "delivered"
            }
            Done::Uncopied { gone: true, .. } | Done::Gone => "gone",
        }
    }
}

/// Makes jobs' calls through twilight-http, each lane paced by its webhook's bucket.
pub(crate) struct Caller {
    http: Arc<twilight_http::Client>,
    pacing: Pacing,
    downloads: Downloads,
}

impl Caller {
    /// Calls through `http`; attachments are fetched with `downloads` to be uploaded again.
    pub(crate) fn new(http: Arc<twilight_http::Client>, downloads: Downloads) -> Self {
        Caller {
            http,
            pacing: Pacing::new(),
            downloads,
        }
    }

    /// Makes the job's webhook call, with what the claim read for it: no query runs between
    /// the claim and Discord.
    pub(crate) async fn call(&self, job: &ClaimedJob) -> Result<Done, Failure> {
        self.pacing.wait(job.lane).await;
        match &job.endpoint {
            Endpoint::Destination {
                destination: None, ..
            } => {
                // Withdrawn since: nothing to deliver to.
                Ok(Done::Gone)
            }
            Endpoint::Destination {
                id,
                destination: Some(destination),
            } => self.call_destination(job, *id, destination).await,
            Endpoint::Peer {
                webhook_url: None, ..
            } => Ok(Done::Gone),
            Endpoint::Peer {
                webhook_url: Some(url),
                ..
            } => {
                let payload: EnvelopePayload = parse_payload(job)?;
                let mentions = AllowedMentions::default();
                let result = self
                    .http
                    .execute_webhook(Id::new(url.id().get()), url.token())
                    .content(&payload.content)
                    .username(&payload.username)
                    .allowed_mentions(Some(&mentions))
                    .wait()
                    .await;
                count_call(&result);
                let response = result.map_err(|error| Failure::of(&error))?;
                self.pacing.learn(job.lane, response.headers());
                Ok(Done::Delivered)
            }
            Endpoint::Times { webhook: None, .. } => {
                // Unregistered since: the member took the channel back.
                Ok(Done::Gone)
            }
            Endpoint::Times {
                webhook: Some(webhook),
                ..
            } if job.operation == Operation::Delete => {
                // A peer's message in the member's times that this server blocks: removed
                // through the webhook it came through. Gone already is as good as removed.
                let message = job.source_message_id.unwrap_or_default();
                match self.delete_message(job.lane, webhook, message).await? {
                    Deleted::Now => Ok(Done::Delivered),
                    Deleted::Before => Ok(Done::Gone),
                }
            }
            Endpoint::Times {
                webhook: Some(webhook),
                ..
            } => {
                let payload: SendPayload = parse_payload(job)?;
                self.send(job.lane, webhook, &payload).await?;
                Ok(Done::Delivered)
            }
            Endpoint::Channel(channel) => {
                let payload: SendPayload = parse_payload(job)?;
                self.post(job.lane, stored_id(*channel)?, &payload).await?;
                Ok(Done::Delivered)
            }
            Endpoint::Webhook(webhook) => {
                // A rotated-away webhook of ours: deleted with the bot's token, which needs no
                // webhook token. Gone already is as good as deleted.
                let result = self.http.delete_webhook(stored_id(*webhook)?).await;
                count_call(&result);
                match result {
                    Ok(_) => Ok(Done::Delivered),
                    Err(error) if crate::classify::is_unknown_webhook(&error) => Ok(Done::Gone),
                    Err(error) => Err(Failure::of(&error)),
                }
            }
        }
    }

    /// Sends, edits or deletes a copy of a member's message at one of its destinations.
    async fn call_destination(
        &self,
        job: &Job,
        destination_id: i64,
        destination: &ClaimedDestination,
    ) -> Result<Done, Failure> {
        if let Some(reason) = &destination.broken_reason {
            return Err(Failure::Rejected(format!(
                "the destination is broken: {reason}"
            )));
        }
        let webhook = &destination.webhook;
        let (webhook_id, token) = (stored_id(webhook.id)?, webhook.token.expose());
        let thread = webhook.thread_id.map(stored_id).transpose()?;
        let source = job.source_message_id.unwrap_or_default();
        match job.operation {
            Operation::Send => {
                let payload: SendPayload = parse_payload(job)?;
                let copy = self.send(job.lane, webhook, &payload).await?;
                Ok(Done::Copied {
                    destination: destination_id,
                    source,
                    copy,
                })
            }
            Operation::Edit => {
                let Some(copy) = destination.copy_message_id else {
                    // Never delivered, or deleted since: there is nothing to edit.
                    return Ok(Done::Gone);
                };
                let payload: EditPayload = parse_payload(job)?;
                let mentions = AllowedMentions::default();
                let mut request = self
                    .http
                    .update_webhook_message(webhook_id, token, stored_id(copy)?)
                    .content(Some(&payload.content))
                    .allowed_mentions(Some(&mentions));
                if let Some(thread) = thread {
                    request = request.thread_id(thread);
                }
                let result = request.await;
                count_call(&result);
                match result.map_err(|error| Failure::of_edit(&error)) {
                    Ok(response) => {
                        self.pacing.learn(job.lane, response.headers());
                        Ok(Done::Delivered)
                    }
                    Err(Failure::CopyGone) => Ok(Done::Uncopied {
                        destination: destination_id,
                        source,
                        gone: true,
                    }),
                    Err(failure) => Err(failure),
                }
            }
            Operation::Delete => {
                let Some(copy) = destination.copy_message_id else {
                    return Ok(Done::Gone);
                };
                let deleted = self.delete_message(job.lane, webhook, copy).await?;
                Ok(Done::Uncopied {
                    destination: destination_id,
                    source,
                    gone: deleted == Deleted::Before,
                })
            }
            Operation::Envelope | Operation::DeleteWebhook => Err(Failure::Rejected(
                "an envelope or webhook deletion aimed at a member's destination".to_owned(),
            )),
        }
    }

    /// Deletes `message`, posted through `webhook` (in its thread if it has one).
    async fn delete_message(
        &self,
        lane: u64,
        webhook: &Webhook,
        message: u64,
    ) -> Result<Deleted, Failure> {
        let mut request = self.http.delete_webhook_message(
            stored_id(webhook.id)?,
            webhook.token.expose(),
            stored_id(message)?,
        );
        if let Some(thread) = webhook.thread_id {
            request = request.thread_id(stored_id(thread)?);
        }
        let result = request.await;
        count_call(&result);
        if let Ok(response) = &result {
            self.pacing.learn(lane, response.headers());
        }
        match result.map_err(|error| Failure::of(&error)) {
            Ok(_) => Ok(Deleted::Now),
            Err(Failure::CopyGone) => Ok(Deleted::Before),
            Err(failure) => Err(failure),
        }
    }

    /// Posts the message as the bot in one of our channels (a `/here` typed outside the
    /// member's times).
    async fn post(
        &self,
        lane: u64,
        channel: Id<ChannelMarker>,
        payload: &SendPayload,
    ) -> Result<(), Failure> {
        let (content, files) = self.downloads.files(payload).await;
        let mentions = AllowedMentions::default();
        let mut request = self
            .http
            .create_message(channel)
            .allowed_mentions(Some(&mentions))
            .attachments(&files);
        if !content.is_empty() {
            request = request.content(&content);
        }
        let result = request.await;
        count_call(&result);
        let response = result.map_err(|error| Failure::of(&error))?;
        self.pacing.learn(lane, response.headers());
        Ok(())
    }

    /// Executes the webhook with a copy of the member's message, in its thread if it has one;
    /// returns the copy's id.
    async fn send(
        &self,
        lane: u64,
        webhook: &Webhook,
        payload: &SendPayload,
    ) -> Result<u64, Failure> {
        let webhook_id = stored_id(webhook.id)?;
        let thread = webhook.thread_id.map(stored_id).transpose()?;
        let (content, files) = self.downloads.files(payload).await;
        let mentions = AllowedMentions::default();
        let mut request = self
            .http
            .execute_webhook(webhook_id, webhook.token.expose())
            .username(&payload.username)
            .allowed_mentions(Some(&mentions))
            .attachments(&files);
        if let Some(thread) = thread {
            request = request.thread_id(thread);
        }
        if !content.is_empty() {
            request = request.content(&content);
        }
        if let Some(avatar) = &payload.avatar_url {
            request = request.avatar_url(avatar);
        }
        let result = request.wait().await;
        count_call(&result);
        let response = result.map_err(|error| Failure::of(&error))?;
        self.pacing.learn(lane, response.headers());
        let message = response.model().await.map_err(|error| {
            Failure::Transient(format!("unreadable answer from Discord: {error}"))
        })?;
        Ok(message.id.get())
    }
}

/// Counts a webhook call by its final HTTP status, or `error` when no answer came.
///
/// twilight-http waits out a 429 and sends the request again inside the same call, so the
/// status here is the last answer; the 429s themselves are counted by the binary, which sees
/// twilight's log event for each of them (`kakusan_webhook_rate_limited_total`).
fn count_call<T>(result: &Result<twilight_http::Response<T>, twilight_http::Error>) {
    let status = match result {
        Ok(response) => Some(response.status().get()),
        Err(error) => match error.kind() {
            twilight_http::error::ErrorType::Response { status, .. } => Some(status.get()),
            _ => None,
        },
    };
    let label = status.map_or_else(|| "error".to_owned(), |status| status.to_string());
    metrics::counter!("kakusan_webhook_calls_total", "status" => label).increment(1);
}

fn parse_payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, Failure> {
    serde_json::from_value(job.payload.clone())
        .map_err(|error| Failure::Rejected(format!("the job's payload is unreadable: {error}")))
}

/// A Discord id read from the database; zero (which Discord never issues) fails the job
/// instead of calling some other webhook or message.
fn stored_id<T>(value: u64) -> Result<Id<T>, Failure> {
    Id::new_checked(value)
        .ok_or_else(|| Failure::Rejected("a stored Discord id is 0; the row is corrupt".to_owned()))
}
