//! Tests of the outbox against a real Postgres.

use std::collections::{BTreeMap, HashSet};

use chrono::TimeDelta;
use serde_json::json;
use sqlx::PgPool;

use super::*;
use crate::destinations::{self, Announced};
use crate::{SecretString, copies, fixtures};

const LEASE: Duration = Duration::from_secs(30);

struct World {
    pool: PgPool,
    /// Two destinations of member 7, with webhook (lane) ids 700 and 800.
    destinations: [i64; 2],
    peer: i64,
}

async fn world(pool: PgPool) -> World {
    fixtures::server(&pool, 100, "alpha").await;
    let peer = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
    let other = fixtures::mutual_peer(&pool, 100, "gamma", 300).await;
    let token = SecretString::new("tok");
    let mut destinations = [0; 2];
    for (slot, (peer_id, webhook)) in [(peer.id, 700), (other.id, 800)].into_iter().enumerate() {
        let announced = Announced {
            member_id: 7,
            member_name: "Taro",
            channel_id: webhook + 1,
            thread_id: None,
            webhook_id: webhook,
            webhook_token: &token,
        };
        destinations[slot] = destinations::announce(&pool, peer_id, &announced, None)
            .await
            .unwrap();
    }
    World {
        pool,
        destinations,
        peer: peer.id,
    }
}

impl World {
    async fn send(&self, slot: usize, source: u64, scheduled_for: Option<DateTime<Utc>>) -> i64 {
        self.send_in_relay(slot, source, scheduled_for, None).await
    }

    /// A send of member 7's message `source`, part of `relay_id`.
    async fn send_in_relay(
        &self,
        slot: usize,
        source: u64,
        scheduled_for: Option<DateTime<Utc>>,
        relay_id: Option<Uuid>,
    ) -> i64 {
        let payload = json!({ "content": format!("message {source}") });
        enqueue(
            &self.pool,
            &NewJob {
                server_guild_id: 100,
                lane: [700, 800][slot],
                target: Target::Destination(self.destinations[slot]),
                operation: Operation::Send,
                source_message_id: Some(source),
                relay_id,
                member_id: Some(7),
                payload: &payload,
                scheduled_for,
            },
        )
        .await
        .unwrap()
    }

    async fn claim(&self, worker: &str) -> Vec<i64> {
        claim(&self.pool, worker, LEASE, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|job| job.id)
            .collect()
    }
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn one_job_per_lane_at_a_time_in_order(pool: PgPool) {
    let world = world(pool).await;
    let a1 = world.send(0, 1, None).await;
    let a2 = world.send(0, 2, None).await;
    let b1 = world.send(1, 3, None).await;

    let first = claim(&world.pool, "w1", LEASE, 10).await.unwrap();
    let ids: Vec<i64> = first.iter().map(|job| job.id).collect();
    assert_eq!(ids, vec![a1, b1], "the head of each lane");
    assert_eq!(first[0].attempts, 1);
    assert_eq!(first[0].leased_by.as_deref(), Some("w1"));
    assert_eq!(first[0].payload, json!({ "content": "message 1" }));
    assert_eq!(
        first[0].target(),
        Target::Destination(world.destinations[0])
    );

    assert!(world.claim("w2").await.is_empty(), "lanes are busy");
    assert!(
        !complete(&world.pool, a1, "w2").await.unwrap(),
        "not w2's job"
    );
    assert!(complete(&world.pool, a1, "w1").await.unwrap());
    assert_eq!(world.claim("w2").await, vec![a2]);
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn a_retrying_job_keeps_its_place_and_a_scheduled_one_waits(pool: PgPool) {
    let world = world(pool).await;
    let a1 = world.send(0, 1, None).await;
    let a2 = world.send(0, 2, None).await;
    let later = Utc::now() + TimeDelta::hours(1);
    let scheduled = world.send(1, 3, Some(later)).await;

    assert_eq!(
        world.claim("w1").await,
        vec![a1],
        "the scheduled job is not due"
    );
    assert!(
        retry_later(
            &world.pool,
            a1,
            "w1",
            Duration::from_secs(60),
            "503 Service Unavailable"
        )
        .await
        .unwrap()
    );
    assert!(
        world.claim("w1").await.is_empty(),
        "a2 waits behind the retrying a1"
    );

    let pending = pending_jobs(&world.pool, 100, Some(7)).await.unwrap();
    let ids: Vec<i64> = pending.iter().map(|job| job.id).collect();
    assert_eq!(ids, vec![a1, a2, scheduled]);
    assert_eq!(
        pending[0].last_error.as_deref(),
        Some("503 Service Unavailable")
    );
    assert!(pending[0].leased_by.is_none());

    // Time passes: the backoff and the schedule are over.
    sqlx::query("UPDATE outbox_jobs SET retry_at = now() - interval '1 s', scheduled_for = scheduled_for - interval '2 h' WHERE id IN ($1, $2)")
        .bind(a1)
        .bind(scheduled)
        .execute(&world.pool)
        .await
        .unwrap();
    let claimed = claim(&world.pool, "w1", LEASE, 10).await.unwrap();
    let ids: HashSet<i64> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(ids, HashSet::from([a1, scheduled]));
    assert_eq!(claimed.iter().find(|job| job.id == a1).unwrap().attempts, 2);
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn an_expired_lease_passes_the_job_to_another_worker(pool: PgPool) {
    let world = world(pool).await;
    let a1 = world.send(0, 1, None).await;
    assert_eq!(world.claim("dead").await, vec![a1]);
    sqlx::query("UPDATE outbox_jobs SET leased_until = now() - interval '1 s' WHERE id = $1")
        .bind(a1)
        .execute(&world.pool)
        .await
        .unwrap();
    assert_eq!(world.claim("alive").await, vec![a1]);
    assert!(!complete(&world.pool, a1, "dead").await.unwrap());
    assert!(complete(&world.pool, a1, "alive").await.unwrap());
    assert!(
        pending_jobs(&world.pool, 100, None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn a_renewed_lease_keeps_the_job(pool: PgPool) {
    let world = world(pool).await;
    let a1 = world.send(0, 1, None).await;
    assert_eq!(world.claim("slow").await, vec![a1]);
    // The lease is nearly over when the worker renews it.
    sqlx::query("UPDATE outbox_jobs SET leased_until = now() + interval '1 ms' WHERE id = $1")
        .bind(a1)
        .execute(&world.pool)
        .await
        .unwrap();
    assert_eq!(
        renew_leases(&world.pool, "slow", &[a1, 999], LEASE)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        renew_leases(&world.pool, "other", &[a1], LEASE)
            .await
            .unwrap(),
        0,
        "not its job"
    );
    assert!(world.claim("other").await.is_empty(), "still held");
    assert!(complete(&world.pool, a1, "slow").await.unwrap());
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn failed_jobs_stop_blocking_and_stay_visible(pool: PgPool) {
    let world = world(pool).await;
    let a1 = world.send(0, 1, None).await;
    let a2 = world.send(0, 2, None).await;
    let a3 = world.send(0, 3, None).await;
    assert_eq!(world.claim("w1").await, vec![a1]);
    world.send(1, 4, None).await;
    assert!(
        fail(&world.pool, a1, "w1", "10015 Unknown Webhook")
            .await
            .unwrap()
    );
    assert!(
        !fail(&world.pool, a1, "w1", "again").await.unwrap(),
        "no longer held"
    );

    // The destination broke: its queued jobs fail too, none of them will call the webhook.
    assert_eq!(
        fail_queued_for_destination(&world.pool, world.destinations[0], "10015 Unknown Webhook")
            .await
            .unwrap(),
        2
    );
    let claimed = world.claim("w1").await;
    assert!(
        !claimed.contains(&a2) && !claimed.contains(&a3),
        "{claimed:?}"
    );

    let stats = queue_stats(&world.pool).await.unwrap();
    assert_eq!(stats.failed, 3);
    assert_eq!(stats.due, 1, "the other lane's job");
    assert_eq!(stats.scheduled, 0);
    assert!(stats.oldest_due_age_seconds.unwrap() >= 0.0);
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn cancel_before_start_only(pool: PgPool) {
    let world = world(pool).await;
    let running = world.send(0, 1, None).await;
    let queued = world.send(0, 2, None).await;
    let other = world
        .send(1, 3, Some(Utc::now() + TimeDelta::hours(1)))
        .await;
    assert_eq!(world.claim("w1").await, vec![running]);

    assert_eq!(
        cancel(&world.pool, 100, running, Some(7)).await.unwrap(),
        Cancelled::AlreadyStarted
    );
    assert_eq!(
        cancel(&world.pool, 100, queued, Some(8)).await.unwrap(),
        Cancelled::NotFound,
        "another member's job"
    );
    assert_eq!(
        cancel(&world.pool, 200, queued, None).await.unwrap(),
        Cancelled::NotFound,
        "another server's job"
    );
    assert_eq!(
        cancel(&world.pool, 100, queued, Some(7)).await.unwrap(),
        Cancelled::Yes
    );
    assert_eq!(
        cancel(&world.pool, 100, queued, Some(7)).await.unwrap(),
        Cancelled::NotFound
    );
    assert_eq!(
        cancel(&world.pool, 100, other, None).await.unwrap(),
        Cancelled::Yes,
        "an admin's cancel"
    );
    let left: Vec<i64> = pending_jobs(&world.pool, 100, None)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(left, vec![running]);
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn envelopes_and_relays_and_bad_targets(pool: PgPool) {
    let world = world(pool).await;
    let relay = Uuid::new_v4();
    let payload = json!({ "content": "envelope" });
    let envelope = enqueue(
        &world.pool,
        &NewJob {
            server_guild_id: 100,
            lane: 42,
            target: Target::Peer(world.peer),
            operation: Operation::Envelope,
            source_message_id: None,
            relay_id: Some(relay),
            member_id: None,
            payload: &payload,
            scheduled_for: None,
        },
    )
    .await
    .unwrap();
    let jobs = jobs_of_relay(&world.pool, relay).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, envelope);
    assert_eq!(jobs[0].operation, Operation::Envelope);
    assert_eq!(jobs[0].target(), Target::Peer(world.peer));
    assert_eq!(jobs[0].source_message_id, None);

    let unknown = enqueue(
        &world.pool,
        &NewJob {
            server_guild_id: 100,
            lane: 42,
            target: Target::Destination(999_999),
            operation: Operation::Send,
            source_message_id: Some(1),
            relay_id: None,
            member_id: Some(7),
            payload: &payload,
            scheduled_for: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(unknown, StorageError::NotFound("job target")),
        "{unknown:?}"
    );
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn origin_jobs_target_a_times_or_a_channel_and_go_with_their_times(pool: PgPool) {
    let world = world(pool).await;
    let times = crate::times::register_times(
        &world.pool,
        &crate::times::NewTimes {
            server_guild_id: 100,
            member_id: 7,
            member_name: "Taro",
            channel_id: 900,
            parent_channel_id: None,
            webhook_id: 901,
            webhook_token: &SecretString::new("tok"),
            mirror: false,
        },
    )
    .await
    .unwrap();
    let relay = Uuid::new_v4();
    let payload = json!({ "content": "here" });
    let job = |lane, target| NewJob {
        server_guild_id: 100,
        lane,
        target,
        operation: Operation::Send,
        source_message_id: Some(5),
        relay_id: Some(relay),
        member_id: Some(7),
        payload: &payload,
        scheduled_for: None,
    };
    enqueue(&world.pool, &job(901, Target::Times(times.id)))
        .await
        .unwrap();
    enqueue(&world.pool, &job(950, Target::Channel(950)))
        .await
        .unwrap();
    let targets: Vec<Target> = jobs_of_relay(&world.pool, relay)
        .await
        .unwrap()
        .iter()
        .map(Job::target)
        .collect();
    assert_eq!(targets, [Target::Times(times.id), Target::Channel(950)]);

    // A times that is unregistered takes its queued copies with it.
    crate::times::unregister_times(&world.pool, 7, 900)
        .await
        .unwrap()
        .unwrap();
    let targets: Vec<Target> = jobs_of_relay(&world.pool, relay)
        .await
        .unwrap()
        .iter()
        .map(Job::target)
        .collect();
    assert_eq!(targets, [Target::Channel(950)]);
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn a_new_job_notifies_listeners_on_commit(pool: PgPool) {
    let world = world(pool).await;
    let mut listener = OutboxListener::connect(&world.pool).await.unwrap();
    let mut tx = world.pool.begin().await.unwrap();
    let payload = json!({});
    enqueue(
        &mut *tx,
        &NewJob {
            server_guild_id: 100,
            lane: 700,
            target: Target::Destination(world.destinations[0]),
            operation: Operation::Delete,
            source_message_id: Some(5),
            relay_id: None,
            member_id: Some(7),
            payload: &payload,
            scheduled_for: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let note = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification within 10 s")
        .unwrap();
    assert_eq!(note, 700);
}

/// Four workers drain 5 lanes of 20 jobs each: every job is claimed exactly once, and each
/// lane's jobs complete in order.
#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn concurrent_workers_share_the_queue(pool: PgPool) {
    let world = world(pool).await;
    let payload = json!({});
    let mut expected: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for n in 0..100u64 {
        let lane = 1000 + n % 5;
        let id = enqueue(
            &world.pool,
            &NewJob {
                server_guild_id: 100,
                lane,
                target: Target::Destination(world.destinations[0]),
                operation: Operation::Send,
                source_message_id: Some(n),
                relay_id: None,
                member_id: Some(7),
                payload: &payload,
                scheduled_for: None,
            },
        )
        .await
        .unwrap();
        expected.entry(lane).or_default().push(id);
    }
    let mut workers = Vec::new();
    for worker in 0..4 {
        let pool = world.pool.clone();
        workers.push(tokio::spawn(async move {
            let name = format!("w{worker}");
            let mut done = Vec::new();
            let mut idle_rounds = 0;
            while idle_rounds < 50 {
                let jobs = claim(&pool, &name, LEASE, 2).await.unwrap();
                if jobs.is_empty() {
                    idle_rounds += 1;
                    tokio::task::yield_now().await;
                    continue;
                }
                idle_rounds = 0;
                for job in jobs {
                    // The claim order, taken before completing: a lane's next job cannot be
                    // claimed before this one is complete, so per lane it is the delivery order.
                    let seq: i64 = sqlx::query_scalar("SELECT nextval('outbox_jobs_id_seq')")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    assert!(complete(&pool, job.id, &name).await.unwrap());
                    done.push((seq, job.lane, job.id));
                }
            }
            done
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all.sort();
    let mut seen = HashSet::new();
    let mut by_lane: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for (_, lane, id) in all {
        assert!(seen.insert(id), "job {id} claimed twice");
        by_lane.entry(lane).or_default().push(id);
    }
    assert_eq!(by_lane, expected);
}

impl World {
    /// A relay job for message `source` at the first destination, through coalescing.
    async fn relay(
        &self,
        operation: Operation,
        source: u64,
        payload: serde_json::Value,
    ) -> Coalesced {
        let mut connection = self.pool.acquire().await.unwrap();
        enqueue_coalescing(
            &mut connection,
            &self.relay_job(operation, source, &payload),
        )
        .await
        .unwrap()
    }

    fn relay_job<'a>(
        &self,
        operation: Operation,
        source: u64,
        payload: &'a serde_json::Value,
    ) -> NewJob<'a> {
        NewJob {
            server_guild_id: 100,
            lane: 700,
            target: Target::Destination(self.destinations[0]),
            operation,
            source_message_id: Some(source),
            relay_id: None,
            member_id: Some(7),
            payload,
            scheduled_for: None,
        }
    }

    /// The pending jobs as (operation, source, payload).
    async fn queue(&self) -> Vec<(Operation, Option<u64>, serde_json::Value)> {
        pending_jobs(&self.pool, 100, None)
            .await
            .unwrap()
            .into_iter()
            .map(|job| (job.operation, job.source_message_id, job.payload))
            .collect()
    }
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn coalescing_rules(pool: PgPool) {
    use Operation::{Delete, Edit, Send};
    let world = world(pool).await;

    // send + send: the newer replaces the older, in the older's place.
    let Coalesced::Enqueued(first) = world.relay(Send, 1, json!({ "content": "a" })).await else {
        panic!("a new job")
    };
    assert_eq!(
        world.relay(Send, 1, json!({ "content": "b" })).await,
        Coalesced::Merged(first)
    );
    // send + edit: the queued send sends the edited message.
    assert_eq!(
        world.relay(Edit, 1, json!({ "content": "c" })).await,
        Coalesced::Merged(first)
    );
    assert_eq!(
        world.queue().await,
        vec![(Send, Some(1), json!({ "content": "c" }))]
    );

    // send + delete before delivery: no call at all.
    assert_eq!(
        world.relay(Delete, 1, json!({})).await,
        Coalesced::Annulled(first)
    );
    assert!(world.queue().await.is_empty());

    // Message 2 was delivered: edits merge, newer fields win.
    copies::record_copy(&world.pool, world.destinations[0], 2, 9002)
        .await
        .unwrap();
    let Coalesced::Enqueued(edit) = world
        .relay(Edit, 2, json!({ "content": "x", "embeds": [] }))
        .await
    else {
        panic!("a new job")
    };
    assert_eq!(
        world.relay(Edit, 2, json!({ "content": "y" })).await,
        Coalesced::Merged(edit)
    );
    assert_eq!(
        world.queue().await,
        vec![(Edit, Some(2), json!({ "content": "y", "embeds": [] }))]
    );
    // edit + delete: the delete replaces the edit.
    assert_eq!(
        world.relay(Delete, 2, json!({ "why": "deleted" })).await,
        Coalesced::Merged(edit)
    );
    // delete + edit and delete + delete: dropped.
    assert_eq!(
        world.relay(Edit, 2, json!({ "content": "z" })).await,
        Coalesced::Discarded(edit)
    );
    assert_eq!(
        world.relay(Delete, 2, json!({})).await,
        Coalesced::Discarded(edit)
    );
    assert_eq!(
        world.queue().await,
        vec![(Delete, Some(2), json!({ "why": "deleted" }))]
    );

    // A delivered message sent again and then deleted: the copy exists, so the delete stays.
    complete_all(&world).await;
    let Coalesced::Enqueued(_) = world.relay(Send, 2, json!({ "content": "again" })).await else {
        panic!("a new job")
    };
    let Coalesced::Enqueued(_) = world.relay(Delete, 2, json!({})).await else {
        panic!("the delete is kept")
    };
    assert_eq!(world.queue().await, vec![(Delete, Some(2), json!({}))]);

    // Other messages and other destinations are never merged.
    complete_all(&world).await;
    world.relay(Send, 3, json!({ "content": "three" })).await;
    let Coalesced::Enqueued(_) = world.relay(Send, 4, json!({ "content": "four" })).await else {
        panic!("another message")
    };
    world.send(1, 3, None).await;
    assert_eq!(world.queue().await.len(), 3);
}

async fn complete_all(world: &World) {
    loop {
        let jobs = claim(&world.pool, "w", LEASE, 10).await.unwrap();
        if jobs.is_empty() {
            break;
        }
        for job in jobs {
            assert!(complete(&world.pool, job.id, "w").await.unwrap());
        }
    }
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn a_job_being_sent_is_never_changed(pool: PgPool) {
    let world = world(pool).await;
    let Coalesced::Enqueued(send) = world
        .relay(Operation::Send, 1, json!({ "content": "a" }))
        .await
    else {
        panic!("a new job")
    };
    assert_eq!(world.claim("w").await, vec![send]);
    // The send is in flight: an edit and a delete queue behind it.
    let Coalesced::Enqueued(edit) = world
        .relay(Operation::Edit, 1, json!({ "content": "b" }))
        .await
    else {
        panic!("a new job behind the running send")
    };
    // The delete replaces the queued edit; the running send's copy will be deleted.
    assert_eq!(
        world.relay(Operation::Delete, 1, json!({})).await,
        Coalesced::Merged(edit)
    );
    let queue = world.queue().await;
    assert_eq!(
        queue[0],
        (Operation::Send, Some(1), json!({ "content": "a" }))
    );
    assert_eq!(queue[1], (Operation::Delete, Some(1), json!({})));
}

/// A worker claims the queued send while an edit arrives: the claim wins the row lock, so
/// the edit must become a job of its own and the running send stays as it was.
#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn race_claim_first(pool: PgPool) {
    let world = world(pool).await;
    let Coalesced::Enqueued(send) = world
        .relay(Operation::Send, 1, json!({ "content": "a" }))
        .await
    else {
        panic!("a new job")
    };
    let mut claiming = world.pool.begin().await.unwrap();
    let claimed = claim(&mut *claiming, "w", LEASE, 10).await.unwrap();
    assert_eq!(claimed[0].id, send);

    let pool = world.pool.clone();
    let destination = world.destinations[0];
    let edit = tokio::spawn(async move {
        let payload = json!({ "content": "b" });
        let mut connection = pool.acquire().await.unwrap();
        let job = NewJob {
            server_guild_id: 100,
            lane: 700,
            target: Target::Destination(destination),
            operation: Operation::Edit,
            source_message_id: Some(1),
            relay_id: None,
            member_id: Some(7),
            payload: &payload,
            scheduled_for: None,
        };
        enqueue_coalescing(&mut connection, &job).await.unwrap()
    });
    // The edit must reach the row lock and wait there for the claim to commit.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&world.pool)
        .await
        .unwrap();
        if waiting == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the edit never waited for the lock"
        );
        tokio::task::yield_now().await;
    }
    assert!(
        !edit.is_finished(),
        "the edit waits for the claim's row lock"
    );
    claiming.commit().await.unwrap();
    let outcome = edit.await.unwrap();
    assert!(
        matches!(outcome, Coalesced::Enqueued(id) if id != send),
        "{outcome:?}"
    );
    let queue = world.queue().await;
    assert_eq!(
        queue[0],
        (Operation::Send, Some(1), json!({ "content": "a" }))
    );
    assert_eq!(
        queue[1],
        (Operation::Edit, Some(1), json!({ "content": "b" }))
    );
}

/// An edit merges into the queued send while a worker tries to claim: the merge holds the row
/// lock, so the claim skips the lane and later takes the merged job.
#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn race_merge_first(pool: PgPool) {
    let world = world(pool).await;
    let Coalesced::Enqueued(send) = world
        .relay(Operation::Send, 1, json!({ "content": "a" }))
        .await
    else {
        panic!("a new job")
    };
    let mut merging = world.pool.begin().await.unwrap();
    let payload = json!({ "content": "b" });
    let outcome = enqueue_coalescing(&mut merging, &world.relay_job(Operation::Edit, 1, &payload))
        .await
        .unwrap();
    assert_eq!(outcome, Coalesced::Merged(send));
    assert!(
        world.claim("w").await.is_empty(),
        "the locked job is skipped, not claimed stale"
    );
    merging.commit().await.unwrap();
    let claimed = claim(&world.pool, "w", LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].payload, json!({ "content": "b" }));
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn cancel_relay_removes_what_has_not_started(pool: PgPool) {
    let world = world(pool).await;
    let relay = Uuid::new_v4();
    for slot in 0..2 {
        world.send_in_relay(slot, 9, None, Some(relay)).await;
    }
    // One lane's job is being sent; the other is still queued.
    let claimed = claim(&world.pool, "w1", LEASE, 1).await.unwrap();
    assert_eq!(claimed.len(), 1);

    assert_eq!(
        cancel_relay(&world.pool, 100, relay, Some(8))
            .await
            .unwrap(),
        RelayCancelled::default(),
        "another member's relay"
    );
    assert_eq!(
        cancel_relay(&world.pool, 100, relay, Some(7))
            .await
            .unwrap(),
        RelayCancelled {
            removed: 1,
            running: 1
        }
    );
    let left: Vec<i64> = jobs_of_relay(&world.pool, relay)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(left, vec![claimed[0].id]);
}

#[sqlx::test(migrator = "crate::MIGRATOR")]
async fn a_refusing_peers_queue_fails_and_old_failures_are_pruned(pool: PgPool) {
    let world = world(pool).await;
    let payload = json!({ "content": "envelope" });
    let envelope = || NewJob {
        server_guild_id: 100,
        lane: 42,
        target: Target::Peer(world.peer),
        operation: Operation::Envelope,
        source_message_id: None,
        relay_id: None,
        member_id: None,
        payload: &payload,
        scheduled_for: None,
    };
    enqueue(&world.pool, &envelope()).await.unwrap();
    enqueue(&world.pool, &envelope()).await.unwrap();
    assert_eq!(
        fail_queued_for_peer(&world.pool, world.peer, "refused (401)")
            .await
            .unwrap(),
        2
    );
    // Failed a week and a day ago: pruned; failed just now: kept.
    sqlx::query(
        "UPDATE outbox_jobs SET failed_at = now() - interval '8 days'
         WHERE id = (SELECT min(id) FROM outbox_jobs)",
    )
    .execute(&world.pool)
    .await
    .unwrap();
    let week = Duration::from_secs(7 * 24 * 60 * 60);
    assert_eq!(prune_failed(&world.pool, week).await.unwrap(), 1);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_jobs")
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
}
