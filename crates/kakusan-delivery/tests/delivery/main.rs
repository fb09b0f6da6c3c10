//! The delivery engine against the Discord simulator (through twilight-http) and the real
//! PostgreSQL: what reaches Discord, in which order, and what the outbox keeps.

use std::time::Duration;

use chrono::Utc;
use discord_sim::{Fault, FaultAction, Limit, RateLimitConfig, Upload};
use kakusan_delivery::{AttachmentLink, DeliveryConfig, EditPayload};
use kakusan_storage::outbox::{self, Cancelled, Coalesced};
use kakusan_storage::{SecretString, copies, destinations};
use kakusan_testkit::delivery::{Harness, MEMBER};
use kakusan_testkit::{PATIENCE, eventually};
use serde_json::json;
use sqlx::PgPool;
use twilight_model::id::Id;

#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn send_edit_and_delete_reach_the_copy(pool: PgPool) {
    let h = Harness::start(pool, 1, DeliveryConfig::default()).await;
    let dest = &h.destinations[0];
    h.send(0, 1, "hello @everyone <@123456789012345678>").await;
    let copy = h.wait_for_copy(0, 1).await;

    let message = h.sim.message(copy).expect("the copy exists");
    assert_eq!(message.channel_id, dest.channel_id);
    assert_eq!(message.webhook_id, Some(dest.webhook_id));
    assert_eq!(message.content, "hello @everyone <@123456789012345678>");
    assert_eq!(message.author_name, "Hanako＠Dis-cord (alpha)");
    assert_eq!(
        message.allowed_mentions,
        Some(json!({ "parse": [] })),
        "nobody is pinged"
    );

    let mut connection = h.pool.acquire().await.unwrap();
    let edited = kakusan_delivery::enqueue_edit(
        &mut connection,
        &h.job(0, 1),
        &EditPayload {
            content: "hello, edited".into(),
        },
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert!(matches!(edited, Coalesced::Enqueued(_)));
    eventually(PATIENCE, "the edit", async || {
        h.sim.message(copy).unwrap().content == "hello, edited"
    })
    .await;
    assert_eq!(
        h.sim.message(copy).unwrap().allowed_mentions,
        Some(json!({ "parse": [] }))
    );

    kakusan_delivery::enqueue_delete(&mut connection, &h.job(0, 1))
        .await
        .unwrap();
    eventually(PATIENCE, "the delete", async || {
        h.sim.message(copy).unwrap().deleted
    })
    .await;
    h.wait_drained().await;
    assert_eq!(
        copies::copy_of(&h.pool, dest.id, 1).await.unwrap(),
        None,
        "the copy is forgotten"
    );
    h.assert_no_call_may_ping();
    h.stop().await;
}

#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn each_destination_gets_its_messages_in_order(pool: PgPool) {
    let h = Harness::start(pool, 5, DeliveryConfig::default()).await;
    h.sim.set_rate_limits(RateLimitConfig {
        webhook: Limit::new(100, Duration::from_secs(1)),
        ..RateLimitConfig::default()
    });
    // Interleaved, as a member's posts fan out.
    for source in 1..=20 {
        for dest in 0..5 {
            h.send(dest, source, &format!("message {source}")).await;
        }
    }
    h.wait_drained().await;
    for dest in 0..5 {
        let expected: Vec<String> = (1..=20).map(|n| format!("message {n}")).collect();
        assert_eq!(h.contents(dest), expected, "destination {dest}");
    }
    h.assert_no_call_may_ping();
    h.stop().await;
}

#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn a_429_storm_delivers_everything_once_and_in_order(pool: PgPool) {
    let h = Harness::start(pool, 3, DeliveryConfig::default()).await;
    h.sim.set_rate_limits(RateLimitConfig {
        webhook: Limit::new(2, Duration::from_millis(300)),
        ..RateLimitConfig::default()
    });
    // On top of the buckets, Discord sometimes answers 429 out of the blue.
    h.sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: "/webhooks/**".into(),
        action: FaultAction::RateLimit {
            retry_after: Duration::from_millis(150),
            scope: "shared".into(),
        },
        times: Some(6),
    });
    for source in 1..=8 {
        for dest in 0..3 {
            h.send(dest, source, &format!("storm {source}")).await;
        }
    }
    h.wait_drained().await;
    for dest in 0..3 {
        let expected: Vec<String> = (1..=8).map(|n| format!("storm {n}")).collect();
        assert_eq!(
            h.contents(dest),
            expected,
            "destination {dest}: exactly once, in order"
        );
    }
    let limited = h
        .sim
        .calls()
        .iter()
        .filter(|call| call.status == 429)
        .count();
    assert!(
        limited >= 6,
        "the storm happened: {limited} answers were 429"
    );
    h.stop().await;
}

#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn a_deleted_webhook_breaks_the_destination_and_stops_its_calls(pool: PgPool) {
    let h = Harness::start(pool, 2, DeliveryConfig::default()).await;
    let broken = h.destinations[0].clone();
    assert!(
        h.sim.delete_webhook(broken.webhook_id),
        "deleted behind kakusan's back"
    );
    for source in 1..=3 {
        h.send(0, source, "to nowhere").await;
    }
    h.send(1, 1, "still fine").await;
    h.wait_drained().await;
    h.wait_for_copy(1, 1).await;

    let destination = destinations::destination(&h.pool, broken.id)
        .await
        .unwrap()
        .unwrap();
    let reason = destination.broken_reason.expect("marked broken");
    assert!(reason.contains("10015"), "{reason}");
    let failed: Vec<_> = sqlx::query_scalar::<_, String>(
        "SELECT last_error FROM outbox_jobs WHERE destination_id = $1 AND failed_at IS NOT NULL",
    )
    .bind(broken.id)
    .fetch_all(&h.pool)
    .await
    .unwrap();
    assert_eq!(
        failed.len(),
        3,
        "every job of the destination failed and stays visible"
    );
    let calls = h
        .sim
        .calls()
        .into_iter()
        .filter(|call| {
            call.path
                .contains(&format!("/webhooks/{}/", broken.webhook_id))
        })
        .count();
    assert_eq!(calls, 1, "no call after the first 404");
    h.stop().await;
}

#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn a_scheduled_relay_waits_and_a_cancelled_one_never_goes(pool: PgPool) {
    let h = Harness::start(pool, 1, DeliveryConfig::default()).await;
    let at = Utc::now() + chrono::TimeDelta::milliseconds(1500);
    h.send_at(0, 1, "scheduled", Some(at)).await;
    let cancelled = h
        .send_at(
            0,
            2,
            "cancelled",
            Some(at - chrono::TimeDelta::milliseconds(500)),
        )
        .await;
    assert_eq!(
        outbox::cancel(&h.pool, 100, cancelled, Some(MEMBER))
            .await
            .unwrap(),
        Cancelled::Yes
    );
    h.send(0, 3, "now").await;
    h.wait_for_copy(0, 3).await;
    assert_eq!(
        h.contents(0),
        ["now"],
        "the scheduled relay is not sent early"
    );
    h.wait_drained().await;
    let delivered_at = Utc::now();
    assert!(delivered_at >= at);
    assert_eq!(
        h.contents(0),
        ["now", "scheduled"],
        "the cancelled relay never went"
    );
    let sent = h.sim.message(h.wait_for_copy(0, 1).await).unwrap();
    let sent_at = chrono::DateTime::parse_from_rfc3339(&sent.timestamp).unwrap();
    assert!(
        sent_at >= at - chrono::TimeDelta::milliseconds(50),
        "sent at {sent_at}, due {at}"
    );
    h.stop().await;
}

#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn transient_errors_retry_and_the_error_is_kept_meanwhile(pool: PgPool) {
    let config = DeliveryConfig {
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..DeliveryConfig::default()
    };
    let h = Harness::start(pool, 1, config).await;
    let webhook = h.destinations[0].webhook_id;
    h.sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: format!("/webhooks/{webhook}/*"),
        action: FaultAction::Error {
            status: 502,
            code: 0,
            message: "502: Bad Gateway".into(),
        },
        times: None,
    });
    h.send(0, 1, "eventually").await;
    eventually(PATIENCE, "a few failed attempts", async || {
        let jobs = outbox::pending_jobs(&h.pool, 100, None).await.unwrap();
        jobs.first().is_some_and(|job| {
            job.attempts >= 3 && job.last_error.as_deref().is_some_and(|e| e.contains("502"))
        })
    })
    .await;
    h.sim.clear_faults();
    h.wait_for_copy(0, 1).await;
    h.wait_drained().await;
    assert_eq!(h.contents(0), ["eventually"], "delivered once");
    h.stop().await;
}

#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn small_files_are_re_uploaded_and_large_ones_linked(pool: PgPool) {
    let config = DeliveryConfig {
        upload_limit: 1024,
        ..DeliveryConfig::default()
    };
    let h = Harness::start(pool, 1, config).await;
    let source_channel = h.sim.create_channel(h.origin_guild, "origin").unwrap();
    let small = h
        .sim
        .upload_attachment(
            source_channel,
            Upload {
                filename: "note.txt".into(),
                content_type: Some("text/plain".into()),
                data: b"small file".to_vec(),
            },
        )
        .unwrap();
    let large = h
        .sim
        .upload_attachment(
            source_channel,
            Upload {
                filename: "big.bin".into(),
                content_type: None,
                data: vec![7; 4096],
            },
        )
        .unwrap();
    let links = [&small, &large]
        .map(|file| AttachmentLink {
            filename: file.filename.clone(),
            url: file.url.clone(),
            size: file.size,
        })
        .to_vec();
    h.send_with(0, 1, "files", links).await;
    let copy = h.sim.message(h.wait_for_copy(0, 1).await).unwrap();
    let names: Vec<&str> = copy
        .attachments
        .iter()
        .map(|file| file.filename.as_str())
        .collect();
    assert_eq!(names, ["note.txt"]);
    assert_eq!(copy.attachments[0].size, 10);
    assert!(copy.content.starts_with("files\n"), "{}", copy.content);
    assert!(
        copy.content.contains(&large.url),
        "the large file is linked: {}",
        copy.content
    );
    h.assert_no_call_may_ping();
    h.stop().await;
}

/// A call slower than a lease: the worker renews the lease, so a second worker does not take
/// the job over and send it again.
#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn a_slow_call_keeps_its_lease(pool: PgPool) {
    let short = DeliveryConfig {
        lease: Duration::from_millis(300),
        poll_interval: Duration::from_millis(50),
        ..DeliveryConfig::default()
    };
    let mut h = Harness::start(pool, 1, short.clone()).await;
    h.sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: "/webhooks/**".into(),
        action: FaultAction::Latency(Duration::from_millis(1500)),
        times: Some(1),
    });
    h.send(0, 1, "slow").await;
    eventually(PATIENCE, "the first worker to claim the job", async || {
        let jobs = outbox::pending_jobs(&h.pool, 100, None).await.unwrap();
        jobs.first().is_some_and(|job| job.leased_by.is_some())
    })
    .await;
    h.add_engine(short);
    h.wait_for_copy(0, 1).await;
    h.wait_drained().await;
    assert_eq!(h.contents(0), ["slow"], "sent once, by the first worker");
    h.stop().await;
}

/// A webhook driven at its rate limit: the engine waits for the bucket to reset instead of
/// collecting a 429 each window (Discord counts those towards its invalid-request ban).
#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn a_busy_webhook_is_paced_without_429s(pool: PgPool) {
    let h = Harness::start(pool, 2, DeliveryConfig::default()).await;
    h.sim.set_rate_limits(RateLimitConfig {
        webhook: Limit::new(2, Duration::from_millis(400)),
        ..RateLimitConfig::default()
    });
    for source in 1..=7 {
        for dest in 0..2 {
            h.send(dest, source, &format!("paced {source}")).await;
        }
    }
    h.wait_drained().await;
    let expected: Vec<String> = (1..=7).map(|n| format!("paced {n}")).collect();
    for dest in 0..2 {
        assert_eq!(h.contents(dest), expected, "destination {dest}");
    }
    let calls = h.sim.calls();
    let refused = calls.iter().filter(|call| call.status == 429).count();
    assert_eq!(refused, 0, "no 429 in {} calls", calls.len());
    h.stop().await;
}

/// A message that cannot be sent (too long: twilight refuses it before sending) or that
/// Discord refuses (400, 50035): that job fails with the reason, but the webhook is fine, so
/// the destination stays usable and the next message goes through.
#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn a_refused_message_fails_its_job_but_not_the_destination(pool: PgPool) {
    let h = Harness::start(pool, 1, DeliveryConfig::default()).await;
    let webhook = h.destinations[0].webhook_id;
    h.sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: format!("/webhooks/{webhook}/*"),
        action: FaultAction::Error {
            status: 400,
            code: 50035,
            message: "Invalid Form Body".into(),
        },
        times: Some(1),
    });
    h.send(0, 1, &"x".repeat(2001)).await;
    h.send(0, 2, "refused by Discord").await;
    h.send(0, 3, "fits").await;
    h.wait_for_copy(0, 3).await;
    h.wait_drained().await;

    let failed: Vec<(i64, String)> = sqlx::query_as(
        "SELECT source_message_id, last_error FROM outbox_jobs
         WHERE failed_at IS NOT NULL ORDER BY source_message_id",
    )
    .fetch_all(&h.pool)
    .await
    .unwrap();
    assert_eq!(
        failed.len(),
        2,
        "the refused jobs stay visible as failed: {failed:?}"
    );
    assert!(failed[0].1.contains("cannot be sent"), "{failed:?}");
    assert!(
        failed[1].1.contains("400") && failed[1].1.contains("50035"),
        "{failed:?}"
    );
    let destination = destinations::destination(&h.pool, h.destinations[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        destination.broken_reason, None,
        "the destination is not broken"
    );
    assert_eq!(h.contents(0), ["fits"]);
    h.stop().await;
}

/// The copy was deleted at the destination (by a moderator there): an edit finds it gone
/// (10008), forgets it, and nothing fails.
#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn an_edit_of_a_copy_deleted_at_the_destination_forgets_it(pool: PgPool) {
    let h = Harness::start(pool, 1, DeliveryConfig::default()).await;
    h.send(0, 1, "soon gone").await;
    let copy = h.wait_for_copy(0, 1).await;
    h.sim.delete_message(copy).unwrap();

    let mut connection = h.pool.acquire().await.unwrap();
    kakusan_delivery::enqueue_edit(
        &mut connection,
        &h.job(0, 1),
        &EditPayload {
            content: "too late".into(),
        },
        Duration::ZERO,
    )
    .await
    .unwrap();
    h.wait_drained().await;
    let edits: Vec<u16> = h
        .sim
        .calls()
        .into_iter()
        .filter(|call| call.method == "PATCH")
        .map(|call| call.status)
        .collect();
    assert_eq!(edits, [404], "the edit was tried and found the copy gone");
    assert_eq!(
        copies::copy_of(&h.pool, h.destinations[0].id, 1)
            .await
            .unwrap(),
        None
    );
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox_jobs WHERE failed_at IS NOT NULL")
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(failed, 0);
    h.stop().await;
}

/// `/block`'s removal of a relay from a member's times that is a thread goes through the
/// parent channel's webhook, naming the thread as every call there does (Discord finds no
/// message otherwise).
#[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
async fn a_removal_in_a_times_thread_names_the_thread(pool: PgPool) {
    let h = Harness::start(pool, 1, DeliveryConfig::default()).await;
    let parent = h.destinations[0].channel_id;
    let thread = h.sim.create_thread(parent, "hanako-times").unwrap();
    let webhook = h
        .http
        .create_webhook(Id::new(parent), "kakusan")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let token = webhook.token.expect("a new webhook has a token");
    let times = kakusan_storage::times::register_times(
        &h.pool,
        &kakusan_storage::times::NewTimes {
            server_guild_id: 100,
            member_id: MEMBER,
            member_name: "Hanako",
            channel_id: thread,
            parent_channel_id: Some(parent),
            webhook_id: webhook.id.get(),
            webhook_token: &SecretString::new(token.clone()),
            mirror: false,
        },
    )
    .await
    .unwrap();
    // A peer's relay, posted in the thread through that webhook.
    let relay = h
        .http
        .execute_webhook(webhook.id, &token)
        .thread_id(Id::new(thread))
        .content("from a blocked member")
        .wait()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(h.sim.message(relay.id.get()).unwrap().channel_id, thread);

    let mut connection = h.pool.acquire().await.unwrap();
    kakusan_delivery::enqueue_removal(
        &mut connection,
        100,
        times.id,
        webhook.id.get(),
        relay.id.get(),
    )
    .await
    .unwrap();
    eventually(PATIENCE, "the relay to be removed", async || {
        h.sim.message(relay.id.get()).unwrap().deleted
    })
    .await;
    h.wait_drained().await;
    h.stop().await;
}
