//! Reconnecting, resuming and shutting down.

use std::sync::atomic::Ordering;
use std::time::Duration;

use discord_sim::MessageDraft;
use twilight_gateway::{
    ConfigBuilder, Event, EventTypeFlags, Session, Shard, ShardId, StreamExt as _,
};

use crate::common::*;
use crate::recorder::TestRecorder;

/// The sessions the bot may still start, as `GET /gateway/bot` reports; an IDENTIFY uses one
/// up, a RESUME does not.
async fn sessions_left(http: &twilight_http::Client) -> u32 {
    let info = http
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    info.session_start_limit.remaining
}

#[tokio::test]
async fn after_op7_the_shard_resumes_and_events_keep_coming() {
    let recorder = TestRecorder::default();
    let _local = metrics::set_default_local_recorder(&recorder);
    let world = world().await;
    let wanted = EventTypeFlags::MESSAGE_CREATE | EventTypeFlags::READY | EventTypeFlags::RESUMED;
    let mut running = start(&world, &world.app.token, wanted, WAIT);
    next_matching(&mut running.events, |_, e| {
        matches!(e, Event::Ready(_)).then_some(())
    })
    .await;
    wait_until("READY", || running.status.all_connected()).await;
    let http = http(&world.sim, &world.app.token);
    let before = sessions_left(&http).await;

    assert_eq!(world.sim.reconnect(world.app.id), 1, "op 7 sent");
    let missed = world
        .sim
        .post_message(world.channel, world.member, MessageDraft::text("during"))
        .unwrap();
    // RESUMED is the simulator's answer to a RESUME for a session it kept; a new IDENTIFY
    // would have brought a READY instead.
    let mut readies = 0;
    next_matching(&mut running.events, |_, e| match e {
        Event::Ready(_) => {
            readies += 1;
            None
        }
        Event::Resumed => Some(()),
        _ => None,
    })
    .await;
    world
        .sim
        .post_message(world.channel, world.member, MessageDraft::text("after"))
        .unwrap();
    let mut during = 0;
    next_matching(&mut running.events, |_, e| match e {
        Event::MessageCreate(m) if m.id.get() == missed => {
            during += 1;
            None
        }
        Event::Ready(_) => {
            readies += 1;
            None
        }
        _ => created(e, "after").map(drop),
    })
    .await;
    assert_eq!(readies, 0, "no second IDENTIFY");
    assert!(
        during <= 1,
        "the message posted during the reconnect is not repeated"
    );
    assert_eq!(sessions_left(&http).await, before, "no session start used");
    assert_eq!(
        recorder.get("kakusan_gateway_reconnects_total{shard=\"0\"}"),
        Some(1.0)
    );
    wait_until("connected again", || running.status.all_connected()).await;
    assert_eq!(recorder.get("kakusan_gateway_shards_connected"), Some(1.0));
    running.shutdown.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_handlers_and_leaves_the_session_resumable() {
    let world = world().await;
    let wanted = EventTypeFlags::MESSAGE_CREATE | EventTypeFlags::READY;
    let grace = Duration::from_secs(5);
    let mut running = start(&world, &world.app.token, wanted, grace);
    let session = next_matching(&mut running.events, |_, e| match e {
        Event::Ready(ready) => Some(ready.session_id.clone()),
        _ => None,
    })
    .await;
    wait_until("READY", || running.status.all_connected()).await;
    world
        .sim
        .post_message(world.channel, world.member, MessageDraft::text("slow"))
        .unwrap();
    next_matching(&mut running.events, |_, e| created(e, "slow").map(drop)).await;

    let started = tokio::time::Instant::now();
    running.shutdown.cancel();
    let ended = tokio::time::timeout(grace + WAIT, running.task)
        .await
        .expect("run returns");
    ended.unwrap().expect("shutdown is Ok");
    assert!(started.elapsed() < grace, "took {:?}", started.elapsed());
    assert_eq!(
        running.handler.slow_done.load(Ordering::SeqCst),
        1,
        "the running handler was waited for"
    );
    assert!(!running.status.all_connected());
    wait_until("the connection to close", || {
        world.sim.connected_sessions(world.app.id) == 0
    })
    .await;

    // The session outlives the process: a new shard resumes it (the simulator answers a
    // RESUME of a session it dropped with INVALID_SESSION) and gets what was missed.
    let missed = world
        .sim
        .post_message(
            world.channel,
            world.member,
            MessageDraft::text("while away"),
        )
        .unwrap();
    let config = ConfigBuilder::new(world.app.token.clone(), intents())
        .proxy_url(world.sim.gateway_url())
        .session(Session::new(0, session))
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut resumed, mut replayed) = (false, false);
    while !(resumed && replayed) {
        let event = tokio::time::timeout_at(deadline, shard.next_event(EventTypeFlags::all()))
            .await
            .expect("event before the deadline")
            .expect("shard open")
            .expect("no receive error");
        match event {
            Event::Resumed => resumed = true,
            Event::MessageCreate(m) if m.id.get() == missed => replayed = true,
            Event::GatewayInvalidateSession(_) => panic!("the session was not kept"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn shutdown_gives_up_on_a_stuck_handler_after_the_grace() {
    let world = world().await;
    let grace = Duration::from_millis(300);
    let mut running = start(
        &world,
        &world.app.token,
        EventTypeFlags::MESSAGE_CREATE,
        grace,
    );
    wait_until("READY", || running.status.all_connected()).await;
    world
        .sim
        .post_message(world.channel, world.member, MessageDraft::text("stuck"))
        .unwrap();
    next_matching(&mut running.events, |_, e| created(e, "stuck").map(drop)).await;

    let started = tokio::time::Instant::now();
    running.shutdown.cancel();
    let ended = tokio::time::timeout(WAIT, running.task)
        .await
        .expect("run returns although the handler never finishes");
    ended.unwrap().expect("shutdown is Ok");
    let took = started.elapsed();
    assert!(took >= grace, "waited for the handler first ({took:?})");
    assert!(took < grace + Duration::from_secs(2), "took {took:?}");
}
