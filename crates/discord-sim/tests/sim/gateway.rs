//! Gateway behaviour with a real twilight shard: READY, GUILD_CREATE, dispatches, intents,
//! resume after op 7 and from a new client, invalid and expired sessions, fatal close codes.

use discord_sim::{Handshake, MessageDraft};
use twilight_gateway::{CloseFrame, Event, EventTypeFlags, Intents, StreamExt as _};
use twilight_model::id::Id;

use crate::common::*;

#[tokio::test]
async fn shard_becomes_ready_and_receives_guild_create() {
    let f = fixture().await;
    let mut shard = shard(&f.sim, &f.app.token, relay_intents());
    let ready = next_matching(&mut shard, |e| match e {
        Event::Ready(ready) => Some(ready.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ready.user.id, Id::new(f.app.bot_user_id));
    assert!(ready.user.bot);
    assert_eq!(ready.application.id, Id::new(f.app.id));
    assert_eq!(ready.guilds.len(), 1);
    assert_eq!(ready.resume_gateway_url, f.sim.gateway_url());
    let guild = next_matching(&mut shard, |e| match e {
        Event::GuildCreate(g) => Some(g.clone()),
        _ => None,
    })
    .await;
    assert_eq!(guild.id(), Id::new(f.guild));
    let twilight_model::gateway::payload::incoming::GuildCreate::Available(guild) = *guild else {
        panic!("guild should be available");
    };
    assert_eq!(guild.name, "alpha");
    assert!(guild.channels.iter().any(|c| c.id == Id::new(f.channel)));
    assert!(
        guild
            .members
            .iter()
            .any(|m| m.user.id == Id::new(f.app.bot_user_id))
    );
    assert_eq!(f.sim.connected_sessions(f.app.id), 1);
}

#[tokio::test]
async fn member_messages_are_dispatched_as_create_update_delete() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let id = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("hello"))
        .unwrap();
    let created = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(created.id, Id::new(id));
    assert_eq!(created.content, "hello");
    assert_eq!(created.author.id, Id::new(f.member));
    assert_eq!(created.guild_id, Some(Id::new(f.guild)));
    assert!(created.member.is_some());
    f.sim.edit_message(id, "hello, edited").unwrap();
    let updated = next_matching(&mut shard, |e| match e {
        Event::MessageUpdate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(updated.content, "hello, edited");
    assert!(updated.edited_timestamp.is_some());
    f.sim.delete_message(id).unwrap();
    let deleted = next_matching(&mut shard, |e| match e {
        Event::MessageDelete(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(deleted.id, Id::new(id));
    assert_eq!(deleted.channel_id, Id::new(f.channel));
}

#[tokio::test]
async fn content_is_emptied_without_the_message_content_intent_unless_exempt() {
    let f = fixture().await;
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES;
    let mut shard = ready_shard(&f.sim, &f.app.token, intents).await;
    let draft = MessageDraft {
        content: "secret".into(),
        attachments: vec![discord_sim::Upload {
            filename: "a.txt".into(),
            content_type: None,
            data: b"a".to_vec(),
        }],
        reply_to: None,
    };
    let id = f.sim.post_message(f.channel, f.member, draft).unwrap();
    let plain = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(plain.content, "");
    assert!(plain.attachments.is_empty());
    assert!(plain.embeds.is_empty());
    assert_eq!(
        f.sim.message(id).unwrap().attachments.len(),
        1,
        "the stored message keeps them"
    );
    f.sim.edit_message(id, "still secret").unwrap();
    let edited = next_matching(&mut shard, |e| match e {
        Event::MessageUpdate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(edited.content, "");
    let mention = format!("<@{}> look", f.app.bot_user_id);
    f.sim
        .post_message(f.channel, f.member, MessageDraft::text(mention.clone()))
        .unwrap();
    let mentioned = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(mentioned.content, mention);
    assert!(
        mentioned
            .mentions
            .iter()
            .any(|m| m.id == Id::new(f.app.bot_user_id))
    );

    // The bot's own messages keep their content too.
    let client = http(&f.sim, &f.app.token);
    client
        .create_message(Id::new(f.channel))
        .content("mine")
        .await
        .unwrap();
    let own = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(own.content, "mine");
}

#[tokio::test]
async fn without_guild_messages_no_message_events_arrive() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, Intents::GUILDS).await;
    f.sim
        .post_message(f.channel, f.member, MessageDraft::text("unseen"))
        .unwrap();
    // A channel creation is dispatched after the message; if the message had been sent it
    // would arrive first.
    let marker = f.sim.create_channel(f.guild, "marker").unwrap();
    let first = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(_) => Some(None),
        Event::ChannelCreate(c) => Some(Some(c.id)),
        _ => None,
    })
    .await;
    assert_eq!(first, Some(Id::new(marker)));
}

#[tokio::test]
async fn other_guilds_messages_are_not_dispatched() {
    let f = fixture().await;
    let owner = f.sim.create_user("bob");
    let other_guild = f.sim.create_guild("beta", owner).unwrap();
    let other_channel = f.sim.create_channel(other_guild, "general").unwrap();
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    f.sim
        .post_message(other_channel, owner, MessageDraft::text("elsewhere"))
        .unwrap();
    let here = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("here"))
        .unwrap();
    let first = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.id),
        _ => None,
    })
    .await;
    assert_eq!(first, Id::new(here));
}

#[tokio::test]
async fn resume_after_op7_replays_missed_dispatches() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    assert_eq!(f.sim.reconnect(f.app.id), 1);
    let id = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("during reconnect"))
        .unwrap();
    let mut resumed = false;
    let mut seen = 0;
    let mut readies = 0;
    // Read until both the RESUMED event and the message were seen, then check nothing repeats.
    next_matching(&mut shard, |e| {
        match e {
            Event::Resumed => resumed = true,
            Event::Ready(_) => readies += 1,
            Event::MessageCreate(m) if m.id == Id::new(id) => seen += 1,
            _ => {}
        }
        (resumed && seen > 0).then_some(())
    })
    .await;
    let second = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("after"))
        .unwrap();
    next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) if m.id == Id::new(id) => {
            seen += 1;
            None
        }
        Event::MessageCreate(m) if m.id == Id::new(second) => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(seen, 1, "the missed dispatch arrives exactly once");
    assert_eq!(readies, 0, "a resume does not identify again");
    let resumes = f.sim.connected_sessions(f.app.id);
    assert_eq!(resumes, 1);
}

/// Lets every identify through at once; twilight's default queue waits 5 s between identifies,
/// as Discord's identify limit asks, which would only slow this test down.
#[derive(Debug)]
struct NoWait;

impl twilight_gateway::queue::Queue for NoWait {
    fn enqueue(&self, _shard: u32) -> tokio::sync::oneshot::Receiver<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(());
        rx
    }
}

#[tokio::test]
async fn non_resumable_invalid_session_leads_to_a_new_identify() {
    let f = fixture().await;
    let config = twilight_gateway::ConfigBuilder::new(f.app.token.clone(), relay_intents())
        .proxy_url(f.sim.gateway_url())
        .queue(NoWait)
        .build();
    let mut shard = twilight_gateway::Shard::with_config(twilight_gateway::ShardId::ONE, config);
    next_matching(&mut shard, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    let first = shard.session().unwrap().id().to_owned();
    assert_eq!(f.sim.invalidate_sessions(f.app.id, false), 1);
    let ready = next_matching(&mut shard, |e| match e {
        Event::Ready(r) => Some(r.session_id.clone()),
        _ => None,
    })
    .await;
    assert_ne!(ready, first);
}

#[tokio::test]
async fn a_bad_token_closes_with_4004() {
    let f = fixture().await;
    let mut shard = shard(&f.sim, "not-a-token", relay_intents());
    let code = next_matching(&mut shard, |e| match e {
        Event::GatewayClose(frame) => Some(frame.as_ref().map(|f| f.code)),
        _ => None,
    })
    .await;
    assert_eq!(code, Some(4004));
    // After a fatal close code the shard stops.
    let next = tokio::time::timeout(WAIT, shard.next_event(EventTypeFlags::all()))
        .await
        .unwrap();
    assert!(next.is_none() || next.unwrap().is_err());
}

#[tokio::test]
async fn message_content_intent_needs_to_be_enabled_for_the_app() {
    let f = fixture().await;
    let app = f.sim.create_application_with("no-content", false);
    let mut shard = shard(&f.sim, &app.token, relay_intents());
    let code = next_matching(&mut shard, |e| match e {
        Event::GatewayClose(frame) => Some(frame.as_ref().map(|f| f.code)),
        _ => None,
    })
    .await;
    assert_eq!(code, Some(4014));
}

#[tokio::test]
async fn a_normal_close_ends_the_session() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    shard.close(CloseFrame::NORMAL);
    // The shard has to be polled to send its close frame, so drive it while waiting.
    let drive = async { while let Some(_event) = shard.next_event(EventTypeFlags::all()).await {} };
    tokio::select! {
        closed = f.sim.wait_for_sessions_closed(f.app.id, WAIT) => closed.expect("session dropped"),
        () = drive => f.sim.wait_for_sessions_closed(f.app.id, WAIT).await.expect("session dropped"),
    }
}

#[tokio::test]
async fn a_client_close_is_answered_with_its_close_frame() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    shard.close(CloseFrame::RESUME);
    // twilight's documented shutdown reads until the gateway's answer to its close frame;
    // without one it takes the dropped connection for a failure and reconnects.
    let frame = next_matching(&mut shard, |e| match e {
        Event::GatewayClose(frame) => Some(frame.clone()),
        Event::GatewayHello(_) => panic!("the shard reconnected instead of seeing the answer"),
        _ => None,
    })
    .await;
    assert_eq!(frame.map(|f| f.code), Some(CloseFrame::RESUME.code));
    // The simulator lets go of the connection before it answers.
    assert_eq!(f.sim.connected_sessions(f.app.id), 0);
}

#[tokio::test]
async fn bots_joining_later_get_guild_create() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let owner = f.sim.create_user("carol");
    let guild = f.sim.create_guild("gamma", owner).unwrap();
    f.sim
        .add_bot(guild, f.app.id, discord_sim::ADMINISTRATOR)
        .unwrap();
    let id = next_matching(&mut shard, |e| match e {
        Event::GuildCreate(g) if g.id() == Id::new(guild) => Some(g.id()),
        _ => None,
    })
    .await;
    assert_eq!(id, Id::new(guild));
}

#[tokio::test]
async fn sending_more_than_120_payloads_a_minute_closes_with_4008() {
    let f = fixture().await;
    let config = twilight_gateway::ConfigBuilder::new(f.app.token.clone(), relay_intents())
        .proxy_url(f.sim.gateway_url())
        .ratelimit_messages(false)
        .build();
    let mut shard = twilight_gateway::Shard::with_config(twilight_gateway::ShardId::ONE, config);
    next_matching(&mut shard, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    for _ in 0..121 {
        shard.send(r#"{"op":1,"d":null}"#.to_owned());
    }
    let code = next_matching(&mut shard, |e| match e {
        Event::GatewayClose(frame) => Some(frame.as_ref().map(|f| f.code)),
        _ => None,
    })
    .await;
    assert_eq!(code, Some(4008));
}

#[tokio::test]
async fn identifies_use_up_the_session_start_limit() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let before = client
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let _shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let after = client
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(
        after.session_start_limit.remaining,
        before.session_start_limit.remaining - 1
    );
}

/// Closes `shard` the way a process does on shutdown (code 4000, so the session stays
/// resumable), reads until the gateway answers, and returns what a restart needs to resume.
async fn close_resumably(
    mut shard: twilight_gateway::Shard,
) -> (twilight_gateway::Session, String) {
    shard.close(CloseFrame::RESUME);
    next_matching(&mut shard, |e| {
        matches!(e, Event::GatewayClose(_)).then_some(())
    })
    .await;
    let session = shard
        .session()
        .cloned()
        .expect("a closed shard keeps its session");
    let url = shard
        .resume_url()
        .expect("READY gave a resume URL")
        .to_owned();
    (session, url)
}

#[tokio::test]
async fn a_new_client_resumes_a_closed_session_and_gets_what_happened_meanwhile() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let before = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("before"))
        .unwrap();
    next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) if m.id == Id::new(before) => Some(()),
        _ => None,
    })
    .await;
    let (session, url) = close_resumably(shard).await;
    assert_eq!(f.sim.connected_sessions(f.app.id), 0);

    // With no connection open, a message is posted, edited and deleted.
    let id = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("meanwhile"))
        .unwrap();
    f.sim.edit_message(id, "meanwhile, edited").unwrap();
    f.sim.delete_message(id).unwrap();

    // A new client (a restarted process) knows only the session id, sequence and URL.
    let config = twilight_gateway::ConfigBuilder::new(f.app.token.clone(), relay_intents())
        .proxy_url(f.sim.gateway_url())
        .session(session.clone())
        .resume_url(url)
        .build();
    let mut resumed = twilight_gateway::Shard::with_config(twilight_gateway::ShardId::ONE, config);
    let mut seen = Vec::new();
    // The replay comes before RESUMED.
    next_matching(&mut resumed, |e| {
        match e {
            Event::Ready(_) => panic!("the session was started anew"),
            Event::GatewayInvalidateSession(_) => panic!("the session was not kept"),
            Event::MessageCreate(m) => seen.push(("create", m.id.get(), m.content.clone())),
            Event::MessageUpdate(m) => seen.push(("update", m.id.get(), m.content.clone())),
            Event::MessageDelete(m) => seen.push(("delete", m.id.get(), String::new())),
            _ => {}
        }
        matches!(e, Event::Resumed).then_some(())
    })
    .await;
    assert_eq!(
        seen,
        [
            ("create", id, "meanwhile".to_owned()),
            ("update", id, "meanwhile, edited".to_owned()),
            ("delete", id, String::new()),
        ],
        "exactly what was missed, in order, and nothing seen before"
    );
    assert_eq!(
        f.sim.handshakes(f.app.id),
        [
            Handshake::Identify {
                session_id: session.id().to_owned()
            },
            Handshake::Resume {
                session_id: session.id().to_owned(),
                seq: session.sequence()
            },
        ]
    );
    assert_eq!(f.sim.connected_sessions(f.app.id), 1);
}

#[tokio::test]
async fn a_resume_of_an_expired_session_is_refused_and_the_client_identifies_anew() {
    let f = fixture().await;
    let shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let (session, url) = close_resumably(shard).await;
    assert_eq!(f.sim.expire_sessions(f.app.id), 1);

    let config = twilight_gateway::ConfigBuilder::new(f.app.token.clone(), relay_intents())
        .proxy_url(f.sim.gateway_url())
        .session(session.clone())
        .resume_url(url)
        .build();
    let mut shard = twilight_gateway::Shard::with_config(twilight_gateway::ShardId::ONE, config);
    let mut refused = false;
    let ready = next_matching(&mut shard, |e| match e {
        Event::GatewayInvalidateSession(resumable) => {
            assert!(
                !resumable,
                "an expired session cannot be resumed later either"
            );
            refused = true;
            None
        }
        Event::Resumed => panic!("an expired session was resumed"),
        Event::Ready(ready) => Some(ready.session_id.clone()),
        _ => None,
    })
    .await;
    assert!(refused, "INVALID_SESSION came before the new READY");
    assert_ne!(ready, session.id());
    assert_eq!(
        f.sim.handshakes(f.app.id),
        [
            Handshake::Identify {
                session_id: session.id().to_owned()
            },
            Handshake::ResumeRefused {
                session_id: session.id().to_owned()
            },
            Handshake::Identify { session_id: ready },
        ]
    );
}
