//! `/forget-me`: the rows that name a member, gone, and the peers asked to do the same.
//!
//! What names a member here: their times (with its read mark), the destinations peers
//! announced for them, the copy map entries of those destinations, their queued and failed
//! jobs (the jobs' `member_id` is the only attribution of use to a member; the usage counters
//! are per guild), and the requests to peers that have not answered yet. Forgetting runs in
//! the caller's transaction, together with the jobs that delete the copies and the times
//! webhook, so a crash loses nothing and leaves nothing half-forgotten.
//!
//! A forgotten destination stays, hidden, until the jobs that delete its copies through its
//! webhook are done; the migration's trigger then removes it with its copy map entries.

use sqlx::PgExecutor;

use crate::ids::sf;
use crate::times::Times;
use crate::{PgConnection, StorageError};

/// Whose destinations of the member are forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every one at our server in this guild: the member ran `/forget-me` here.
    Server(u64),
    /// Only those the peer with this row id announced: the peer asked (`member.forget`).
    Peer(i64),
}

/// A delivered copy of the member's post, to delete through its destination's webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct CopyToDelete {
    /// Our server that relayed it.
    #[sqlx(try_from = "i64")]
    pub server_guild_id: u64,
    /// The destination it was delivered to.
    pub destination_id: i64,
    /// That destination's webhook: the deletion's lane.
    #[sqlx(try_from = "i64")]
    pub webhook_id: u64,
    /// The member's message it copies.
    #[sqlx(try_from = "i64")]
    pub source_message_id: u64,
}

/// What forgetting a member left to do: the copies to delete, and (for [`Scope::Server`]) the
/// member's times webhook to delete once peers no longer need it.
#[derive(Debug, Default)]
pub struct Forgotten {
    /// The copies the member's posts became through the forgotten destinations.
    pub copies: Vec<CopyToDelete>,
    /// How many destinations were forgotten.
    pub destinations: u64,
    /// The member's times here, removed.
    pub times: Option<Times>,
    /// The webhook of that times, or of the times an earlier, unanswered `/forget-me` removed:
    /// peers delete the copies in it through it, so it goes once they have answered.
    pub webhook_id: Option<u64>,
}

/// Forgets `member_id` within `scope`: removes their queued and failed jobs (those a worker
/// is sending right now finish), marks their destinations forgotten and returns the copies to
/// delete; with [`Scope::Server`] also removes their times and their pending requests to
/// peers. The caller queues the deletions in the same transaction and then calls
/// [`drop_finished`].
pub async fn forget_member(
    connection: &mut PgConnection,
    scope: Scope,
    member_id: u64,
) -> Result<Forgotten, StorageError> {
    let member = sf(member_id)?;
    // The destinations in scope, as a condition on `d` (joined with its peer `p`).
    let (in_scope, key) = match scope {
        Scope::Server(guild) => ("p.server_guild_id = $1", sf(guild)?),
        Scope::Peer(peer) => ("d.peer_id = $1", peer),
    };
    if let Scope::Server(guild) = scope {
        // Their pause goes too: it names them, and it would hold the deletions queued next.
        crate::pauses::resume(connection, guild, member_id).await?;
    }
    // Jobs first, while no destination is marked yet (the trigger leaves unmarked ones alone).
    // Queued deletions stay: they do what the member asks, and a second /forget-me must not
    // take the deletions of the first (and with them the destinations that still need them).
    let jobs = match scope {
        Scope::Server(_) => {
            "DELETE FROM outbox_jobs
             WHERE server_guild_id = $1 AND member_id = $2 AND operation <> 'delete'
               AND (leased_until IS NULL OR leased_until < now())"
        }
        Scope::Peer(_) => {
            "DELETE FROM outbox_jobs j USING destinations d
             WHERE j.destination_id = d.id AND d.peer_id = $1 AND d.member_id = $2
               AND j.operation <> 'delete'
               AND (j.leased_until IS NULL OR j.leased_until < now())"
        }
    };
    sqlx::query(jobs)
        .bind(key)
        .bind(member)
        .execute(&mut *connection)
        .await?;
    let copies = sqlx::query_as::<_, CopyToDelete>(sqlx::AssertSqlSafe(format!(
        "SELECT p.server_guild_id, c.destination_id, d.webhook_id, c.source_message_id
         FROM copies c
         JOIN destinations d ON d.id = c.destination_id
         JOIN peers p ON p.id = d.peer_id
         WHERE {in_scope} AND d.member_id = $2
         ORDER BY c.destination_id, c.source_message_id"
    )))
    .bind(key)
    .bind(member)
    .fetch_all(&mut *connection)
    .await?;
    let destinations = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE destinations d SET forgotten_at = coalesce(d.forgotten_at, now())
         FROM peers p
         WHERE p.id = d.peer_id AND {in_scope} AND d.member_id = $2"
    )))
    .bind(key)
    .bind(member)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    let (mut times, mut webhook_id) = (None, None);
    if let Scope::Server(guild) = scope {
        times = sqlx::query_as::<_, Times>(
            "DELETE FROM times WHERE server_guild_id = $1 AND member_id = $2 RETURNING *",
        )
        .bind(sf(guild)?)
        .bind(member)
        .fetch_optional(&mut *connection)
        .await?;
        let earlier: Option<Option<i64>> = sqlx::query_scalar(
            "DELETE FROM forget_requests WHERE server_guild_id = $1 AND member_id = $2
             RETURNING webhook_id",
        )
        .bind(sf(guild)?)
        .bind(member)
        .fetch_all(&mut *connection)
        .await?
        .into_iter()
        .find(Option::is_some);
        webhook_id = match &times {
            Some(times) => Some(times.webhook_id),
            None => earlier.flatten().map(|id| id as u64),
        };
    }
    Ok(Forgotten {
        copies,
        destinations,
        times,
        webhook_id,
    })
}

/// Removes the forgotten destinations of our server in `server_guild_id` that have no job
/// left to run (the trigger does the same for the others as their jobs finish). Returns how
/// many went.
pub async fn drop_finished(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
) -> Result<u64, StorageError> {
    let result = sqlx::query(
        "DELETE FROM destinations d USING peers p
         WHERE p.id = d.peer_id AND p.server_guild_id = $1 AND d.forgotten_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM outbox_jobs j
                           WHERE j.destination_id = d.id AND j.failed_at IS NULL)",
    )
    .bind(sf(server_guild_id)?)
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// A request to one peer to forget a member.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Our server that asks.
    pub server_guild_id: u64,
    /// The peer asked, by row id.
    pub peer_id: i64,
    /// The member.
    pub member_id: u64,
    /// The request id the answer repeats.
    pub request: &'a str,
    /// The member's times webhook here, whose deletion waits for the answers.
    pub webhook_id: Option<u64>,
}

/// Records a request, replacing an earlier one to the same peer for the same member.
pub async fn record_request(
    executor: impl PgExecutor<'_>,
    request: &Request<'_>,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO forget_requests (server_guild_id, peer_id, member_id, request, webhook_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (peer_id, member_id)
         DO UPDATE SET request = EXCLUDED.request, webhook_id = EXCLUDED.webhook_id,
                       requested_at = now()",
    )
    .bind(sf(request.server_guild_id)?)
    .bind(request.peer_id)
    .bind(sf(request.member_id)?)
    .bind(request.request)
    .bind(request.webhook_id.map(sf).transpose()?)
    .execute(executor)
    .await?;
    Ok(())
}

/// The peer's answer to request `request` about `member_id` arrived: the request goes, and
/// when it was the last one of the member's, the deletion of their times webhook (which the
/// peers no longer need) is brought forward to now. Returns whether the request was pending
/// (an answer to nothing we asked changes nothing).
pub async fn confirm_request(
    connection: &mut PgConnection,
    peer_id: i64,
    member_id: u64,
    request: &str,
) -> Result<bool, StorageError> {
    let answered: Option<(i64, Option<i64>)> = sqlx::query_as(
        "DELETE FROM forget_requests WHERE peer_id = $1 AND member_id = $2 AND request = $3
         RETURNING server_guild_id, webhook_id",
    )
    .bind(peer_id)
    .bind(sf(member_id)?)
    .bind(request)
    .fetch_optional(&mut *connection)
    .await?;
    let Some((guild, webhook)) = answered else {
        return Ok(false);
    };
    if let Some(webhook) = webhook {
        sqlx::query(
            "UPDATE outbox_jobs SET scheduled_for = now()
             WHERE server_guild_id = $1 AND operation = 'delete_webhook' AND webhook_id = $2
               AND failed_at IS NULL AND leased_by IS NULL AND scheduled_for > now()
               AND NOT EXISTS (SELECT 1 FROM forget_requests
                               WHERE server_guild_id = $1 AND member_id = $3)",
        )
        .bind(guild)
        .bind(webhook)
        .bind(sf(member_id)?)
        .execute(&mut *connection)
        .await?;
    }
    Ok(true)
}

/// The names of the peers that have not yet answered `member_id`'s request to be forgotten,
/// sent from our server in `server_guild_id`.
pub async fn unconfirmed_peers(
    executor: impl PgExecutor<'_>,
    server_guild_id: u64,
    member_id: u64,
) -> Result<Vec<String>, StorageError> {
    Ok(sqlx::query_scalar(
        "SELECT p.name FROM forget_requests r JOIN peers p ON p.id = r.peer_id
         WHERE r.server_guild_id = $1 AND r.member_id = $2 ORDER BY p.name",
    )
    .bind(sf(server_guild_id)?)
    .bind(sf(member_id)?)
    .fetch_all(executor)
    .await?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::PgPool;

    use super::*;
    use crate::destinations::{self, Announced};
    use crate::outbox::{self, NewJob, Operation, Target};
    use crate::times::NewTimes;
    use crate::{SecretString, copies, fixtures, times};

    async fn destination(pool: &PgPool, peer: i64, member: u64) -> i64 {
        let token = SecretString::new("tok");
        let announced = Announced {
            member_id: member,
            member_name: "Hanako",
            channel_id: member + 1,
            webhook_id: member + peer as u64 * 1000,
            webhook_token: &token,
            thread_id: None,
        };
        destinations::announce(pool, peer, &announced, None)
            .await
            .unwrap()
    }

    async fn delete_job(pool: &PgPool, copy: &CopyToDelete) -> i64 {
        let payload = serde_json::json!({});
        outbox::enqueue(
            pool,
            &NewJob {
                server_guild_id: copy.server_guild_id,
                lane: copy.webhook_id,
                target: Target::Destination(copy.destination_id),
                operation: Operation::Delete,
                source_message_id: Some(copy.source_message_id),
                relay_id: None,
                member_id: Some(7),
                payload: &payload,
                scheduled_for: None,
            },
        )
        .await
        .unwrap()
    }

    /// A paused member who leaves is no longer paused: the deletions of their copies go out.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_paused_member_who_leaves_has_the_copies_deleted_all_the_same(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let beta = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let at_beta = destination(&pool, beta.id, 7).await;
        copies::record_copy(&pool, at_beta, 5000, 6000)
            .await
            .unwrap();
        let mut connection = pool.acquire().await.unwrap();
        crate::pauses::pause(&mut connection, 100, 7).await.unwrap();
        let mut transaction = pool.begin().await.unwrap();
        let forgotten = forget_member(&mut transaction, Scope::Server(100), 7)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        let job = delete_job(&pool, &forgotten.copies[0]).await;
        let paused: bool = sqlx::query_scalar("SELECT paused FROM outbox_jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(!paused, "the deletion is not held by the pause");
        assert_eq!(
            count(&pool, "member_pauses").await,
            0,
            "the pause names them"
        );
    }

    async fn count(pool: &PgPool, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(pool)
            .await
            .unwrap()
    }

    /// A member's rows go: the times and the queued jobs at once, the destinations once the
    /// deletions of their copies are done; another member's rows stay.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_forgotten_member_leaves_nothing_once_the_deletions_are_done(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let beta = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let gamma = fixtures::mutual_peer(&pool, 100, "gamma", 300).await;
        let at_beta = destination(&pool, beta.id, 7).await;
        let at_gamma = destination(&pool, gamma.id, 7).await;
        let others = destination(&pool, beta.id, 8).await;
        copies::record_copy(&pool, at_beta, 5000, 6000)
            .await
            .unwrap();
        copies::record_copy(&pool, others, 5001, 6001)
            .await
            .unwrap();
        times::register_times(
            &pool,
            &NewTimes {
                server_guild_id: 100,
                member_id: 7,
                member_name: "Hanako",
                channel_id: 70,
                webhook_id: 71,
                webhook_token: &SecretString::new("t"),
                mirror: true,
                parent_channel_id: None,
            },
        )
        .await
        .unwrap();
        let payload = serde_json::json!({});
        outbox::enqueue(
            &pool,
            &NewJob {
                server_guild_id: 100,
                lane: 7 + gamma.id as u64 * 1000,
                target: Target::Destination(at_gamma),
                operation: Operation::Send,
                source_message_id: Some(5002),
                relay_id: None,
                member_id: Some(7),
                payload: &payload,
                scheduled_for: None,
            },
        )
        .await
        .unwrap();
        record_request(&pool, &request(beta.id, "old", Some(72)))
            .await
            .unwrap();

        let mut connection = pool.acquire().await.unwrap();
        let forgotten = forget_member(&mut connection, Scope::Server(100), 7)
            .await
            .unwrap();
        assert_eq!(forgotten.destinations, 2);
        assert_eq!(forgotten.times.map(|t| t.webhook_id), Some(71));
        assert_eq!(forgotten.webhook_id, Some(71));
        assert_eq!(
            forgotten.copies,
            vec![CopyToDelete {
                server_guild_id: 100,
                destination_id: at_beta,
                webhook_id: 7 + beta.id as u64 * 1000,
                source_message_id: 5000,
            }]
        );
        let job = delete_job(&pool, &forgotten.copies[0]).await;
        // The destination without copies goes at once; the one with a deletion waits for it.
        assert_eq!(drop_finished(&pool, 100).await.unwrap(), 1);
        assert!(
            destinations::destinations_of_member(&pool, 100, 7)
                .await
                .unwrap()
                .is_empty(),
            "forgotten destinations are not relayed to"
        );
        assert!(
            times::times_of_member(&pool, 100, 7)
                .await
                .unwrap()
                .is_none()
        );
        assert!(unconfirmed_peers(&pool, 100, 7).await.unwrap().is_empty());
        assert_eq!(count(&pool, "destinations").await, 2);

        // The deletion is delivered: the trigger removes the destination and its copy.
        let claimed = outbox::claim(&pool, "w", Duration::from_secs(30), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, job);
        let forget = outbox::CopyChange::Forget {
            destination_id: at_beta,
            source_message_id: 5000,
        };
        assert!(
            outbox::complete_with_copy(&pool, job, "w", forget)
                .await
                .unwrap()
        );
        assert_eq!(count(&pool, "destinations").await, 1);
        assert_eq!(count(&pool, "copies").await, 1, "member 8's copy stays");
        assert_eq!(count(&pool, "outbox_jobs").await, 0);
    }

    /// A peer's request reaches only what that peer announced: the member's destination at
    /// another peer, and their times here, stay.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_peers_request_forgets_only_what_that_peer_announced(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let beta = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let gamma = fixtures::mutual_peer(&pool, 100, "gamma", 300).await;
        let at_beta = destination(&pool, beta.id, 7).await;
        let at_gamma = destination(&pool, gamma.id, 7).await;
        copies::record_copy(&pool, at_beta, 5000, 6000)
            .await
            .unwrap();
        copies::record_copy(&pool, at_gamma, 5000, 6001)
            .await
            .unwrap();

        let mut connection = pool.acquire().await.unwrap();
        let nothing = forget_member(&mut connection, Scope::Peer(gamma.id), 9)
            .await
            .unwrap();
        assert_eq!((nothing.destinations, nothing.copies.len()), (0, 0));
        let forgotten = forget_member(&mut connection, Scope::Peer(gamma.id), 7)
            .await
            .unwrap();
        assert_eq!(forgotten.destinations, 1);
        assert_eq!(forgotten.copies.len(), 1);
        assert_eq!(forgotten.copies[0].destination_id, at_gamma);
        assert!(forgotten.times.is_none());
        let left = destinations::destinations_of_member(&pool, 100, 7)
            .await
            .unwrap();
        assert_eq!(left.iter().map(|d| d.id).collect::<Vec<_>>(), [at_beta]);
        // A withdraw or a sync does not take a forgotten destination before its deletions.
        assert!(!destinations::withdraw(&pool, gamma.id, 7).await.unwrap());
        assert_eq!(count(&pool, "destinations").await, 2);
    }

    fn request(peer_id: i64, id: &str, webhook_id: Option<u64>) -> Request<'_> {
        Request {
            server_guild_id: 100,
            peer_id,
            member_id: 7,
            request: id,
            webhook_id,
        }
    }

    /// When the webhook deletion is due, in seconds from now (negative: due already).
    async fn webhook_deletion_due(pool: &PgPool) -> f64 {
        sqlx::query_scalar(
            "SELECT extract(epoch FROM scheduled_for - now())::float8 FROM outbox_jobs
             WHERE operation = 'delete_webhook'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    }

    /// Answers count only with their request's id; the last one brings the deletion of the
    /// member's times webhook forward.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_request_is_confirmed_once_and_only_with_its_id(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let beta = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let gamma = fixtures::mutual_peer(&pool, 100, "gamma", 300).await;
        let payload = serde_json::json!({});
        outbox::enqueue(
            &pool,
            &NewJob {
                server_guild_id: 100,
                lane: 71,
                target: Target::Webhook(71),
                operation: Operation::DeleteWebhook,
                source_message_id: None,
                relay_id: None,
                member_id: None,
                payload: &payload,
                scheduled_for: Some(chrono::Utc::now() + chrono::TimeDelta::minutes(10)),
            },
        )
        .await
        .unwrap();
        record_request(&pool, &request(beta.id, "one", Some(71)))
            .await
            .unwrap();
        record_request(&pool, &request(gamma.id, "two", Some(71)))
            .await
            .unwrap();
        record_request(&pool, &request(gamma.id, "three", Some(71)))
            .await
            .unwrap();
        assert_eq!(
            unconfirmed_peers(&pool, 100, 7).await.unwrap(),
            ["beta", "gamma"]
        );
        let mut connection = pool.acquire().await.unwrap();
        assert!(
            !confirm_request(&mut connection, gamma.id, 7, "two")
                .await
                .unwrap()
        );
        assert!(
            !confirm_request(&mut connection, beta.id, 7, "three")
                .await
                .unwrap()
        );
        assert!(
            confirm_request(&mut connection, gamma.id, 7, "three")
                .await
                .unwrap()
        );
        assert!(
            !confirm_request(&mut connection, gamma.id, 7, "three")
                .await
                .unwrap()
        );
        assert_eq!(unconfirmed_peers(&pool, 100, 7).await.unwrap(), ["beta"]);
        assert!(
            webhook_deletion_due(&pool).await > 60.0,
            "beta still needs it"
        );
        assert!(
            confirm_request(&mut connection, beta.id, 7, "one")
                .await
                .unwrap()
        );
        assert!(webhook_deletion_due(&pool).await <= 0.0, "due now");
    }
}
