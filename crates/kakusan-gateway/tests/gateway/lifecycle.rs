//! Reconnecting, resuming (after op 7, and a previous run's session) and shutting down.

use std::sync::atomic::Ordering;
use std::time::Duration;

use discord_sim::{Handshake, MessageDraft};
use kakusan_gateway::ShardSession;
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

/// Runs the gateway until READY, handles one message, shuts down and returns the kept sessions
/// with the READY's session id.
async fn run_once_and_stop(world: &World, wanted: EventTypeFlags) -> (Vec<ShardSession>, String) {
    let mut running = start(world, &world.app.token, wanted, WAIT);
    let session_id = next_matching(&mut running.events, |_, e| match e {
        Event::Ready(ready) => Some(ready.session_id.clone()),
        _ => None,
    })
    .await;
    world
        .sim
        .post_message(world.channel, world.member, MessageDraft::text("seen"))
        .unwrap();
    next_matching(&mut running.events, |_, e| created(e, "seen").map(drop)).await;
    running.shutdown.cancel();
    let kept = running.task.await.unwrap().expect("shutdown is Ok");
    (kept, session_id)
}

#[tokio::test]
async fn a_second_run_resumes_the_session_the_first_returned() {
    let recorder = TestRecorder::default();
    let _local = metrics::set_default_local_recorder(&recorder);
    let world = world().await;
    let wanted = EventTypeFlags::READY
        | EventTypeFlags::RESUMED
        | EventTypeFlags::MESSAGE_CREATE
        | EventTypeFlags::MESSAGE_UPDATE
        | EventTypeFlags::MESSAGE_DELETE;
    let (kept, session_id) = run_once_and_stop(&world, wanted).await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].shard, ShardId::ONE);
    assert_eq!(kept[0].session_id, session_id);
    assert_eq!(
        kept[0].resume_url.as_deref(),
        Some(world.sim.gateway_url().as_str())
    );
    assert!(
        !format!("{:?}", kept[0]).contains(&session_id),
        "the id stays out of logs"
    );

    // While no process runs, a message is posted, edited and deleted.
    let id = world
        .sim
        .post_message(world.channel, world.member, MessageDraft::text("meanwhile"))
        .unwrap();
    world.sim.edit_message(id, "meanwhile, edited").unwrap();
    world.sim.delete_message(id).unwrap();

    let mut running = start_resuming(&world, &world.app.token, wanted, WAIT, kept.clone());
    let mut handled = Vec::new();
    next_matching(&mut running.events, |_, e| {
        match e {
            Event::Ready(_) => panic!("the second run identified"),
            Event::Resumed => handled.push("resumed".to_owned()),
            Event::MessageCreate(m) => handled.push(format!("create {}", m.content)),
            Event::MessageUpdate(m) => handled.push(format!("update {}", m.content)),
            Event::MessageDelete(m) if m.id.get() == id => {
                handled.push("delete".to_owned());
                return Some(());
            }
            _ => {}
        }
        None
    })
    .await;
    assert_eq!(
        handled,
        ["create meanwhile", "update meanwhile, edited", "delete"],
        "what happened meanwhile, in order, and not what the first run handled"
    );
    next_matching(&mut running.events, |_, e| {
        matches!(e, Event::Resumed).then_some(())
    })
    .await;
    assert_eq!(
        world.sim.handshakes(world.app.id).last(),
        Some(&Handshake::Resume {
            session_id: session_id.clone(),
            seq: kept[0].sequence
        })
    );
    wait_until("connected", || running.status.all_connected()).await;
    assert_eq!(
        recorder.get("kakusan_gateway_reconnects_total{shard=\"0\"}"),
        None,
        "resuming the previous run's session is not a reconnect"
    );

    running.shutdown.cancel();
    let again = running.task.await.unwrap().unwrap();
    assert_eq!(again[0].session_id, session_id, "still the same session");
    assert!(again[0].sequence > kept[0].sequence);
}

#[tokio::test]
async fn a_refused_session_ends_in_a_new_one() {
    let world = world().await;
    let wanted = EventTypeFlags::READY | EventTypeFlags::MESSAGE_CREATE;
    let (kept, first) = run_once_and_stop(&world, wanted).await;
    // Discord forgets a closed session that is not resumed in time.
    assert_eq!(world.sim.expire_sessions(world.app.id), 1);

    let mut running = start_resuming(&world, &world.app.token, wanted, WAIT, kept);
    let second = next_matching(&mut running.events, |_, e| match e {
        Event::Ready(ready) => Some(ready.session_id.clone()),
        _ => None,
    })
    .await;
    assert_ne!(second, first);
    world
        .sim
        .post_message(world.channel, world.member, MessageDraft::text("after"))
        .unwrap();
    next_matching(&mut running.events, |_, e| created(e, "after").map(drop)).await;
    assert_eq!(
        world.sim.handshakes(world.app.id),
        [
            Handshake::Identify {
                session_id: first.clone()
            },
            Handshake::ResumeRefused { session_id: first },
            Handshake::Identify { session_id: second },
        ]
    );
    running.shutdown.cancel();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_session_for_another_shard_count_is_not_offered_to_discord() {
    let world = world().await;
    let wanted = EventTypeFlags::READY;
    // The simulator recommends one shard; this session was shard 0 of two.
    let stale = ShardSession {
        shard: ShardId::new(0, 2),
        session_id: "of-another-layout".to_owned(),
        sequence: 3,
        resume_url: Some(world.sim.gateway_url()),
    };
    let mut running = start_resuming(&world, &world.app.token, wanted, WAIT, vec![stale]);
    let session = next_matching(&mut running.events, |_, e| match e {
        Event::Ready(ready) => Some(ready.session_id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        world.sim.handshakes(world.app.id),
        [Handshake::Identify {
            session_id: session
        }],
        "no RESUME was tried"
    );
    running.shutdown.cancel();
    running.task.await.unwrap().unwrap();
}
