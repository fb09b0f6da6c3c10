//! Events reach the handler, filtered by the wanted types, whatever earlier handlers did.

use std::time::Duration;

use discord_sim::{MessageDraft, SimConfig};
use twilight_gateway::{Event, EventTypeFlags, ShardId};
use twilight_model::id::Id;

use crate::common::*;
use crate::recorder::TestRecorder;

#[tokio::test]
async fn a_members_message_reaches_the_handler_once_the_shard_is_ready() {
    let recorder = TestRecorder::default();
    let _local = metrics::set_default_local_recorder(&recorder);
    // Short heartbeats so that a latency is measured within the test.
    let world = world_with(SimConfig {
        heartbeat_interval: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await;
    let mut running = start(
        &world,
        &world.app.token,
        EventTypeFlags::MESSAGE_CREATE,
        WAIT,
    );
    assert!(!running.status.all_connected());
    wait_until("READY", || running.status.all_connected()).await;
    assert_eq!(running.status.shards(), 1);
    assert_eq!(world.sim.connected_sessions(world.app.id), 1);

    let id = world
        .sim
        .post_message(world.channel, world.member, MessageDraft::text("hello"))
        .unwrap();
    // Only MESSAGE_CREATE is wanted, so READY and GUILD_CREATE never reach the handler.
    let (shard, event) =
        next_matching(&mut running.events, |shard, e| Some((shard, e.clone()))).await;
    assert_eq!(shard, ShardId::ONE);
    let Event::MessageCreate(message) = event else {
        panic!("expected the member's message first, got {event:?}");
    };
    assert_eq!(message.id, Id::new(id));
    assert_eq!(message.author.id, Id::new(world.member));
    assert_eq!(message.content, "hello");

    wait_until("a heartbeat latency", || {
        recorder
            .get("kakusan_gateway_latency_seconds{shard=\"0\"}")
            .is_some()
    })
    .await;
    assert_eq!(recorder.get("kakusan_gateway_shards_connected"), Some(1.0));
    assert_eq!(
        recorder.get("kakusan_gateway_reconnects_total{shard=\"0\"}"),
        None,
        "the first READY is not a reconnect"
    );
    running.shutdown.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn failing_and_panicking_handlers_do_not_stop_later_events() {
    let recorder = TestRecorder::default();
    let _local = metrics::set_default_local_recorder(&recorder);
    let world = world().await;
    let mut running = start(
        &world,
        &world.app.token,
        EventTypeFlags::MESSAGE_CREATE,
        WAIT,
    );
    wait_until("READY", || running.status.all_connected()).await;
    for content in ["fail", "panic", "after"] {
        world
            .sim
            .post_message(world.channel, world.member, MessageDraft::text(content))
            .unwrap();
    }
    next_matching(&mut running.events, |_, e| created(e, "after").map(drop)).await;
    wait_until("both failures counted", || {
        recorder.get("kakusan_gateway_handler_errors_total") == Some(2.0)
    })
    .await;
    assert!(running.status.all_connected(), "the shard is unaffected");
    assert!(!running.task.is_finished());
    running.shutdown.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_shard_that_closes_for_good_ends_run_with_an_error() {
    let world = world().await;
    // The message-content intent is privileged; an app without it is closed with 4014, after
    // which twilight does not reconnect.
    let app = world.sim.create_application_with("no-content", false);
    let running = start(&world, &app.token, EventTypeFlags::MESSAGE_CREATE, WAIT);
    let ended = tokio::time::timeout(WAIT, running.task)
        .await
        .expect("run ends by itself")
        .unwrap();
    let error = ended.expect_err("a fatal close is an error");
    assert!(
        format!("{error:#}").contains("closed for good"),
        "{error:#}"
    );
    assert!(!running.status.all_connected());
}
