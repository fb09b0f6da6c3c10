//! The bus against the real NATS server on 127.0.0.1:4222, each test with streams of its own.

use std::time::Duration;

use bytes::Bytes;
use kakusan_bus::{Bus, BusConfig, Lane, MAX_DELIVER};

const WAIT: Duration = Duration::from_secs(2);

fn url() -> String {
    std::env::var("KAKUSAN_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A bus on streams no other test run uses (the NATS server is shared), and their name.
async fn bus(group: &str) -> (Bus, String) {
    let stream = format!("T{}", uuid::Uuid::new_v4().simple())[..20].to_owned();
    let bus = Bus::connect(&BusConfig {
        url: url(),
        stream: stream.clone(),
        group: group.to_owned(),
        application: 42,
    })
    .await
    .expect("NATS with JetStream on 127.0.0.1:4222");
    (bus, stream)
}

#[tokio::test]
async fn a_republished_event_is_stored_once_and_a_lane_hands_out_in_order() {
    let (bus, stream) = bus("main").await;
    let lane = Lane::Partition(5);
    let first = bus
        .publish(0, "MESSAGE_CREATE", lane, Bytes::from_static(b"{\"n\":1}"))
        .await
        .unwrap();
    assert!(!first.duplicate);
    // Discord replays it after a RESUME, through another gateway even: one copy.
    let again = bus
        .publish(1, "MESSAGE_CREATE", lane, Bytes::from_static(b"{\"n\":1}"))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.sequence, first.sequence);
    bus.publish(0, "MESSAGE_UPDATE", lane, Bytes::from_static(b"{\"n\":2}"))
        .await
        .unwrap();
    // Another lane and READY's are not this lane's.
    bus.publish(
        0,
        "MESSAGE_CREATE",
        Lane::Partition(6),
        Bytes::from_static(b"{}"),
    )
    .await
    .unwrap();
    bus.publish(0, "READY", Lane::Ready, Bytes::from_static(b"{}"))
        .await
        .unwrap();

    // Two workers share the lane: the second gets nothing while the first holds an event.
    let one = bus.lane(lane, Duration::from_secs(30)).await.unwrap();
    let two = bus.lane(lane, Duration::from_secs(30)).await.unwrap();
    let event = one.next(WAIT).await.unwrap().expect("the first event");
    assert_eq!(event.event_type(), "MESSAGE_CREATE");
    assert_eq!(&event.payload()[..], b"{\"n\":1}");
    assert!(
        two.next(Duration::from_millis(500))
            .await
            .unwrap()
            .is_none(),
        "the lane waits for the first event's ack"
    );
    event.ack().await.unwrap();
    let event = two.next(WAIT).await.unwrap().expect("the second event");
    assert_eq!(event.event_type(), "MESSAGE_UPDATE");
    event.ack().await.unwrap();
    assert!(
        one.next(Duration::from_millis(300))
            .await
            .unwrap()
            .is_none()
    );

    let ready = bus
        .lane(Lane::Ready, Duration::from_secs(30))
        .await
        .unwrap();
    let event = ready.next(WAIT).await.unwrap().expect("READY");
    assert_eq!(event.event_type(), "READY");
    event.ack().await.unwrap();
    Bus::delete_streams(&url(), &stream).await.unwrap();
    assert_eq!(Bus::probe(&url(), &stream).await.unwrap(), None, "deleted");
}

#[tokio::test]
async fn an_event_that_keeps_failing_goes_to_the_dead_letters_and_can_be_replayed() {
    let (bus, stream) = bus("dlq").await;
    let lane = Lane::Partition(1);
    bus.publish(
        3,
        "INTERACTION_CREATE",
        lane,
        Bytes::from_static(b"{\"x\":1}"),
    )
    .await
    .unwrap();
    let consumer = bus.lane(lane, Duration::from_secs(30)).await.unwrap();
    let mut attempts = 0;
    let dead = loop {
        let event = consumer.next(WAIT).await.unwrap().expect("redelivered");
        attempts += 1;
        assert_eq!(event.attempts(), attempts);
        if event.attempts() >= MAX_DELIVER {
            break event;
        }
        event.retry(Duration::ZERO).await.unwrap();
    };
    bus.dead_letter(dead, "handler failed:\nboom")
        .await
        .unwrap();
    assert!(
        consumer
            .next(Duration::from_millis(300))
            .await
            .unwrap()
            .is_none()
    );

    let letters = bus.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].error, "handler failed: boom");
    assert!(
        letters[0]
            .subject
            .ends_with(".3.dlq.42.interaction.create.1")
    );
    assert!(!bus.replay(letters[0].sequence + 100).await.unwrap());
    assert!(bus.replay(letters[0].sequence).await.unwrap());
    assert!(bus.dead_letters().await.unwrap().is_empty());
    let event = consumer.next(WAIT).await.unwrap().expect("replayed");
    assert_eq!(&event.payload()[..], b"{\"x\":1}");
    assert_eq!(event.attempts(), 1);
    event.ack().await.unwrap();
    assert_eq!(
        Bus::probe(&url(), &stream).await.unwrap(),
        Some(0),
        "acked events are gone"
    );
    Bus::delete_streams(&url(), &stream).await.unwrap();
}
