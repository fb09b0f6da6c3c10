//! Claiming: a worker takes the head of each ready lane, and with each job everything its call
//! needs, in one statement.

use std::ops::Deref;
use std::time::Duration;

use sqlx::PgExecutor;

use super::{Job, Target};
use crate::ids::OptionalId;
use crate::{SecretString, StorageError, WebhookUrl};

/// A job a worker has just claimed, with what its call needs, read in the claim's statement:
/// calling it takes no further query.
///
/// It reads as the [`Job`] it is (`claimed.id`, `claimed.payload`, `claimed.target()`); what
/// the claim adds is its [`Endpoint`].
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job as stored, with the lease just taken.
    pub job: Job,
    /// Whose webhook it calls, as that stood when it was claimed.
    pub endpoint: Endpoint,
}

impl Deref for ClaimedJob {
    type Target = Job;

    fn deref(&self) -> &Job {
        &self.job
    }
}

/// Whose webhook a claimed job calls, with what the call needs. A row that is gone (a
/// destination withdrawn, a peer removed, a times unregistered) is `None`: there is nothing
/// to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A member's destination (its times webhook at a peer).
    Destination {
        /// The destination's row id.
        id: i64,
        /// The destination, if it still exists.
        destination: Option<ClaimedDestination>,
    },
    /// A peer's master webhook.
    Peer {
        /// The peer's row id.
        id: i64,
        /// Its master webhook URL, if the peer still exists.
        webhook_url: Option<WebhookUrl>,
    },
    /// A member's times in our own server: a `/here`'s copy in it.
    Times {
        /// The times' row id.
        id: i64,
        /// Its webhook, if the times is still registered.
        webhook: Option<Webhook>,
    },
    /// A channel of our own server the bot posts in; nothing to look up.
    Channel(u64),
    /// A webhook of ours to delete; nothing to look up.
    Webhook(u64),
}

impl Endpoint {
    /// The target the endpoint was read for.
    pub fn target(&self) -> Target {
        match *self {
            Endpoint::Destination { id, .. } => Target::Destination(id),
            Endpoint::Peer { id, .. } => Target::Peer(id),
            Endpoint::Times { id, .. } => Target::Times(id),
            Endpoint::Channel(channel) => Target::Channel(channel),
            Endpoint::Webhook(webhook) => Target::Webhook(webhook),
        }
    }
}

/// A webhook's id and token, and the thread its calls are aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The webhook id.
    pub id: u64,
    /// Its token.
    pub token: SecretString,
    /// For a times that is a thread or forum post, the thread: every call (execute, edit,
    /// delete a message) carries it as `thread_id`, since the webhook is the parent's.
    pub thread_id: Option<u64>,
}

/// What a call to a member's destination needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDestination {
    /// The destination's webhook.
    pub webhook: Webhook,
    /// Why the destination does not work, when it does not.
    pub broken_reason: Option<String>,
    /// The copy of the job's message delivered there, if one was: what an edit or a delete
    /// changes.
    pub copy_message_id: Option<u64>,
}

/// One row of the claim: the job's columns and those of the rows its call needs (NULL for
/// the targets it does not have).
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    job: Job,
    #[sqlx(try_from = "OptionalId")]
    destination_webhook_id: Option<u64>,
    destination_webhook_token: Option<String>,
    destination_broken_reason: Option<String>,
    #[sqlx(try_from = "OptionalId")]
    destination_thread_id: Option<u64>,
    #[sqlx(try_from = "OptionalId")]
    copy_message_id: Option<u64>,
    peer_webhook_url: Option<String>,
    #[sqlx(try_from = "OptionalId")]
    times_webhook_id: Option<u64>,
    times_webhook_token: Option<String>,
    #[sqlx(try_from = "OptionalId")]
    times_thread_id: Option<u64>,
}

impl From<ClaimedRow> for ClaimedJob {
    fn from(row: ClaimedRow) -> Self {
        let webhook = |id: Option<u64>, token: Option<String>, thread_id: Option<u64>| {
            id.zip(token).map(|(id, token)| Webhook {
                id,
                token: SecretString::from(token),
                thread_id,
            })
        };
        let endpoint = match row.job.target() {
            Target::Destination(id) => Endpoint::Destination {
                id,
                destination: webhook(
                    row.destination_webhook_id,
                    row.destination_webhook_token,
                    row.destination_thread_id,
                )
                .map(|webhook| ClaimedDestination {
                    webhook,
                    broken_reason: row.destination_broken_reason,
                    copy_message_id: row.copy_message_id,
                }),
            },
            Target::Peer(id) => Endpoint::Peer {
                id,
                // Stored URLs were parsed before they were stored; one that no longer parses
                // is as unusable as a peer that is gone.
                webhook_url: row
                    .peer_webhook_url
                    .and_then(|url| WebhookUrl::try_from(url).ok()),
            },
            Target::Times(id) => Endpoint::Times {
                id,
                webhook: webhook(
                    row.times_webhook_id,
                    row.times_webhook_token,
                    row.times_thread_id,
                ),
            },
            Target::Channel(channel) => Endpoint::Channel(channel),
            Target::Webhook(webhook) => Endpoint::Webhook(webhook),
        };
        ClaimedJob {
            job: row.job,
            endpoint,
        }
    }
}

/// Claims up to `limit` ready jobs for `worker`, at most one per lane (the head of the lane),
/// and leases them for `lease`. Each claim counts as an attempt. The jobs come in lane order
/// (`scheduled_for`, `id`), each with its [`Endpoint`] read in the same statement, so a worker
/// needs one round trip per batch, not one per job.
pub async fn claim(
    executor: impl PgExecutor<'_>,
    worker: &str,
    lease: Duration,
    limit: i64,
) -> Result<Vec<ClaimedJob>, StorageError> {
    // A paused member's jobs (`paused`, and any that missed the flag while the pause was
    // being committed) are passed over, and do not hold up the jobs behind them in a lane
    // they share with other members' (a channel where several typed /here).
    // The joins read the statement's snapshot, the one in which the lane's earlier jobs were
    // found finished: a send completed before its edit was claimed has its copy visible here,
    // since the copy and the completion were committed together.
    let rows = sqlx::query_as::<_, ClaimedRow>(
        "WITH ready AS (
             SELECT j.id FROM outbox_jobs j
             WHERE j.failed_at IS NULL AND NOT j.paused
               AND j.scheduled_for <= now() AND j.retry_at <= now()
               AND (j.leased_until IS NULL OR j.leased_until < now())
               AND NOT EXISTS (
                   SELECT 1 FROM member_pauses mp
                   WHERE mp.server_guild_id = j.server_guild_id AND mp.member_id = j.member_id)
               AND NOT EXISTS (
                   SELECT 1 FROM outbox_jobs earlier
                   WHERE earlier.lane = j.lane AND earlier.failed_at IS NULL
                     AND NOT earlier.paused
                     AND (earlier.scheduled_for, earlier.id) < (j.scheduled_for, j.id)
                     AND NOT EXISTS (
                         SELECT 1 FROM member_pauses mp
                         WHERE mp.server_guild_id = earlier.server_guild_id
                           AND mp.member_id = earlier.member_id))
             ORDER BY j.scheduled_for, j.id
             LIMIT $3
             FOR UPDATE OF j SKIP LOCKED),
         claimed AS (
             UPDATE outbox_jobs job
             SET leased_by = $1, leased_until = now() + make_interval(secs => $2),
                 attempts = job.attempts + 1
             FROM ready WHERE job.id = ready.id
             RETURNING job.*)
         SELECT claimed.*,
                d.webhook_id AS destination_webhook_id,
                d.webhook_token AS destination_webhook_token,
                d.broken_reason AS destination_broken_reason,
                d.thread_id AS destination_thread_id,
                c.copy_message_id,
                p.webhook_url AS peer_webhook_url,
                t.webhook_id AS times_webhook_id,
                t.webhook_token AS times_webhook_token,
                CASE WHEN t.parent_channel_id IS NOT NULL THEN t.channel_id END
                    AS times_thread_id
         FROM claimed
         LEFT JOIN destinations d ON d.id = claimed.destination_id
         LEFT JOIN copies c ON c.destination_id = claimed.destination_id
                           AND c.source_message_id = claimed.source_message_id
         LEFT JOIN peers p ON p.id = claimed.peer_id
         LEFT JOIN times t ON t.id = claimed.times_id
         ORDER BY claimed.scheduled_for, claimed.id",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(ClaimedJob::from).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sqlx::PgPool;

    use super::*;
    use crate::destinations::{self, Announced};
    use crate::outbox::{NewJob, Operation, enqueue};
    use crate::times::{self, NewTimes};
    use crate::{copies, fixtures};

    const LEASE: Duration = Duration::from_secs(30);

    /// Our server 100 with peer beta, member 7's destination there (webhook 700, its lane, in
    /// thread 702 of channel 701) and member 7's times, thread 900 of channel 899 (webhook 901).
    struct World {
        pool: PgPool,
        peer: i64,
        destination: i64,
        times: i64,
    }

    async fn world(pool: PgPool) -> World {
        fixtures::server(&pool, 100, "alpha").await;
        let peer = fixtures::mutual_peer(&pool, 100, "beta", 200).await.id;
        let announced = Announced {
            member_id: 7,
            member_name: "Taro",
            channel_id: 701,
            thread_id: Some(702),
            webhook_id: 700,
            webhook_token: &SecretString::new("destination-token"),
        };
        let destination = destinations::announce(&pool, peer, &announced, None)
            .await
            .unwrap();
        let times = times::register_times(
            &pool,
            &NewTimes {
                server_guild_id: 100,
                member_id: 7,
                member_name: "Taro",
                channel_id: 900,
                parent_channel_id: Some(899),
                webhook_id: 901,
                webhook_token: &SecretString::new("times-token"),
                mirror: false,
            },
        )
        .await
        .unwrap()
        .id;
        World {
            pool,
            peer,
            destination,
            times,
        }
    }

    impl World {
        async fn enqueue(&self, lane: u64, target: Target, operation: Operation, source: u64) {
            let payload = json!({ "content": format!("message {source}") });
            let source_message_id = (operation != Operation::Envelope).then_some(source);
            enqueue(
                &self.pool,
                &NewJob {
                    server_guild_id: 100,
                    lane,
                    target,
                    operation,
                    source_message_id,
                    relay_id: None,
                    member_id: Some(7),
                    payload: &payload,
                    scheduled_for: None,
                },
            )
            .await
            .unwrap();
        }

        /// Claims every ready job.
        async fn claim(&self) -> Vec<ClaimedJob> {
            claim(&self.pool, "w", LEASE, 10).await.unwrap()
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn each_target_comes_with_what_its_call_needs(pool: PgPool) {
        let world = world(pool).await;
        world
            .enqueue(
                700,
                Target::Destination(world.destination),
                Operation::Send,
                1,
            )
            .await;
        world
            .enqueue(200, Target::Peer(world.peer), Operation::Envelope, 0)
            .await;
        world
            .enqueue(901, Target::Times(world.times), Operation::Send, 2)
            .await;
        world
            .enqueue(950, Target::Channel(950), Operation::Send, 3)
            .await;

        let claimed = world.claim().await;
        let endpoints: Vec<Endpoint> = claimed.iter().map(|job| job.endpoint.clone()).collect();
        assert_eq!(
            endpoints,
            [
                Endpoint::Destination {
                    id: world.destination,
                    destination: Some(ClaimedDestination {
                        webhook: Webhook {
                            id: 700,
                            token: SecretString::new("destination-token"),
                            thread_id: Some(702),
                        },
                        broken_reason: None,
                        copy_message_id: None,
                    }),
                },
                Endpoint::Peer {
                    id: world.peer,
                    webhook_url: Some(
                        WebhookUrl::try_from(
                            "https://discord.com/api/webhooks/200/secret".to_owned()
                        )
                        .unwrap()
                    ),
                },
                Endpoint::Times {
                    id: world.times,
                    webhook: Some(Webhook {
                        id: 901,
                        token: SecretString::new("times-token"),
                        thread_id: Some(900),
                    }),
                },
                Endpoint::Channel(950),
            ],
            "in lane order, each with its own row and thread"
        );
        for job in &claimed {
            assert_eq!(job.endpoint.target(), job.target());
            assert_eq!(job.leased_by.as_deref(), Some("w"));
        }
        let shown = format!("{claimed:?}");
        for secret in ["destination-token", "times-token", "webhooks/200/secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn edits_and_deletes_come_with_their_copy_and_the_destination_state(pool: PgPool) {
        let world = world(pool).await;
        copies::record_copy(&world.pool, world.destination, 1, 555)
            .await
            .unwrap();
        world
            .enqueue(
                700,
                Target::Destination(world.destination),
                Operation::Edit,
                1,
            )
            .await;
        let claimed = world.claim().await;
        let Endpoint::Destination {
            destination: Some(destination),
            ..
        } = &claimed[0].endpoint
        else {
            panic!("{claimed:?}");
        };
        assert_eq!(destination.copy_message_id, Some(555));
        assert_eq!(destination.broken_reason, None);
        assert!(
            crate::outbox::complete(&world.pool, claimed[0].id, "w")
                .await
                .unwrap()
        );

        // A message never delivered there has no copy; a broken destination says why.
        destinations::mark_broken(&world.pool, world.destination, "unknown webhook")
            .await
            .unwrap();
        world
            .enqueue(
                700,
                Target::Destination(world.destination),
                Operation::Delete,
                2,
            )
            .await;
        let claimed = world.claim().await;
        let Endpoint::Destination {
            destination: Some(destination),
            ..
        } = &claimed[0].endpoint
        else {
            panic!("{claimed:?}");
        };
        assert_eq!(destination.copy_message_id, None);
        assert_eq!(
            destination.broken_reason.as_deref(),
            Some("unknown webhook")
        );
    }
}
