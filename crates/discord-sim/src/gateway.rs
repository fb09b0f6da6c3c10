//! The gateway: a WebSocket speaking Discord's JSON protocol in plain text frames.
//!
//! Follows "Gateway: Connections" (HELLO, IDENTIFY, READY, heartbeats), "Gateway: Resuming"
//! (RESUME replays missed dispatches, then RESUMED), "Gateway Events: Reconnect / Invalid
//! Session", and "Gateway: Gateway Intents" with the message-content rules.

use std::sync::Arc;

use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message as WsMessage, WebSocket},
    },
    response::Response,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::shared::Shared;
use crate::world::{App, FLAG_EPHEMERAL, Handshake, Message, Outbound, Session, World};

/// `GUILDS`: guild, channel and role events.
pub const INTENT_GUILDS: u64 = 1 << 0;
/// `GUILD_WEBHOOKS`: WEBHOOKS_UPDATE.
pub const INTENT_GUILD_WEBHOOKS: u64 = 1 << 5;
/// `GUILD_MESSAGES`: message events in guild channels.
pub const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
/// `DIRECT_MESSAGES`: message events in DMs.
pub const INTENT_DIRECT_MESSAGES: u64 = 1 << 12;
/// `MESSAGE_CONTENT` (privileged): content, embeds, attachments and components of messages.
pub const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;
/// Every intent bit Discord defines; others close the connection with 4013.
const KNOWN_INTENTS: u64 = (1 << 26) - 1;
/// How many payloads a client may send per minute before Discord closes with 4008.
const SEND_LIMIT: usize = 120;
/// How many dispatches a session keeps for resuming.
const REPLAY_BUFFER: usize = 2_000;

/// Accepts the WebSocket upgrade on `/` (twilight adds `?v=10&encoding=json&compress=...`).
pub(crate) async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| connection(shared, socket))
}

fn frame(op: u8, d: Value) -> String {
    json!({ "op": op, "d": d, "s": null, "t": null }).to_string()
}

/// Runs one connection until either side closes it.
#[tracing::instrument(skip_all)]
async fn connection(shared: Arc<Shared>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outbound>();
    let mut writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Outbound::Text(text) => {
                    if sink.send(WsMessage::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Outbound::Close(code, reason) => {
                    let close = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = sink.send(WsMessage::Close(Some(close))).await;
                    break;
                }
                Outbound::AnswerClose => {
                    // Sending a close frame of our own after the client's fails ("sending
                    // after closing") and drops the reply tungstenite queued; closing the
                    // sink flushes that reply instead.
                    let _ = sink.close().await;
                    break;
                }
            }
        }
    });
    let connection = {
        let mut world = shared.lock();
        world.connection_serial += 1;
        let interval = world.heartbeat_interval_ms;
        let _ = tx.send(Outbound::Text(frame(
            10,
            json!({ "heartbeat_interval": interval }),
        )));
        world.connection_serial
    };
    let mut session_id: Option<String> = None;
    let mut client_close: Option<u16> = None;
    // A close frame may come without a code, and still needs its answer.
    let mut client_closed = false;
    let mut sent_at: std::collections::VecDeque<std::time::Instant> = Default::default();
    while let Some(incoming) = stream.next().await {
        let text = match incoming {
            Ok(WsMessage::Text(text)) => text.to_string(),
            Ok(WsMessage::Close(frame)) => {
                client_close = frame.map(|f| f.code);
                client_closed = true;
                break;
            }
            Ok(WsMessage::Binary(_)) => {
                let _ = tx.send(Outbound::Close(4002, "Decode error.".into()));
                continue;
            }
            Ok(_) => continue,
            Err(_) => break,
        };
        // "Gateway: Rate Limiting": 120 payloads per 60 seconds per connection.
        let now = std::time::Instant::now();
        while sent_at
            .front()
            .is_some_and(|t| now.duration_since(*t).as_secs() >= 60)
        {
            sent_at.pop_front();
        }
        sent_at.push_back(now);
        if sent_at.len() > SEND_LIMIT {
            let _ = tx.send(Outbound::Close(4008, "Rate limited.".into()));
            continue;
        }
        let Ok(payload) = serde_json::from_str::<Value>(&text) else {
            let _ = tx.send(Outbound::Close(4002, "Decode error.".into()));
            continue;
        };
        handle_payload(&shared, &tx, connection, &mut session_id, &payload);
        shared.notify();
    }
    if let Some(id) = session_id.take() {
        let mut world = shared.lock();
        let drop_session = matches!(client_close, Some(1000 | 1001));
        if let Some(session) = world.sessions.get_mut(&id)
            && session.connection == connection
        {
            session.tx = None;
            // A client closing with 1000 or 1001 ends its session; Discord will not resume it.
            if drop_session {
                world.sessions.remove(&id);
            }
        }
    }
    shared.notify();
    // Answer a client's close frame so it sees a clean close, then let the writer finish.
    if client_closed {
        let _ = tx.send(Outbound::AnswerClose);
    }
    drop(tx);
    if tokio::time::timeout(std::time::Duration::from_secs(1), &mut writer)
        .await
        .is_err()
    {
        tracing::debug!("gateway writer did not finish after close");
        writer.abort();
    }
}

fn handle_payload(
    shared: &Arc<Shared>,
    tx: &mpsc::UnboundedSender<Outbound>,
    connection: u64,
    session_id: &mut Option<String>,
    payload: &Value,
) {
    let op = payload["op"].as_u64().unwrap_or(u64::MAX);
    let d = &payload["d"];
    let mut world = shared.lock();
    match op {
        1 => {
            let _ = tx.send(Outbound::Text(frame(11, Value::Null)));
        }
        2 => {
            if session_id
                .as_ref()
                .is_some_and(|id| world.sessions.contains_key(id))
            {
                let _ = tx.send(Outbound::Close(4005, "Already authenticated.".into()));
                return;
            }
            let token = d["token"].as_str().unwrap_or_default();
            let token = token.strip_prefix("Bot ").unwrap_or(token);
            let Some(app) = world.app_by_token(token).cloned() else {
                let _ = tx.send(Outbound::Close(4004, "Authentication failed.".into()));
                return;
            };
            let intents = d["intents"].as_u64().unwrap_or(0);
            if intents & !KNOWN_INTENTS != 0 {
                let _ = tx.send(Outbound::Close(4013, "Invalid intent(s).".into()));
                return;
            }
            if intents & INTENT_MESSAGE_CONTENT != 0 && !app.message_content {
                let _ = tx.send(Outbound::Close(4014, "Disallowed intent(s).".into()));
                return;
            }
            let shard = d["shard"]
                .as_array()
                .and_then(|s| Some([s.first()?.as_u64()?, s.get(1)?.as_u64()?]));
            let id = uuid::Uuid::new_v4().simple().to_string();
            world.sessions.insert(
                id.clone(),
                Session {
                    id: id.clone(),
                    app_id: app.id,
                    intents,
                    shard,
                    seq: 0,
                    buffer: Default::default(),
                    tx: Some(tx.clone()),
                    connection,
                },
            );
            *session_id = Some(id.clone());
            *world.identifies.entry(app.id).or_default() += 1;
            world
                .handshakes
                .entry(app.id)
                .or_default()
                .push(Handshake::Identify {
                    session_id: id.clone(),
                });
            tracing::debug!(app = app.id, session = %id, intents, "identified");
            let guild_ids: Vec<u64> = world
                .guilds
                .values()
                .filter(|g| g.apps.contains(&app.id))
                .filter(|g| on_shard(shard, g.id))
                .map(|g| g.id)
                .collect();
            let ready = json!({
                "v": 10,
                "user": world.current_user_json(&app),
                "guilds": guild_ids.iter().map(|g| json!({ "id": g.to_string(), "unavailable": true })).collect::<Vec<_>>(),
                "session_id": id,
                "resume_gateway_url": world.base_url.replace("http://", "ws://"),
                "shard": shard.map_or(json!([0, 1]), |s| json!(s)),
                "application": { "id": app.id.to_string(), "flags": if app.message_content { 1 << 19 } else { 0 } },
                "private_channels": [],
                "presences": [],
                "relationships": [],
                "geo_ordered_rtc_regions": [],
            });
            push_dispatch(&mut world, &id, "READY", ready);
            if intents & INTENT_GUILDS != 0 {
                for guild_id in guild_ids {
                    let guild = world.guilds[&guild_id].clone();
                    let payload = world.guild_json(&guild, Some(&app));
                    push_dispatch(&mut world, &id, "GUILD_CREATE", payload);
                }
            }
        }
        6 => {
            let token = d["token"].as_str().unwrap_or_default();
            let token = token.strip_prefix("Bot ").unwrap_or(token).to_owned();
            let wanted = d["session_id"].as_str().unwrap_or_default().to_owned();
            let seq = d["seq"].as_u64().unwrap_or(0);
            let app_id = world.app_by_token(&token).map(|a| a.id);
            let resumable = world.sessions.get(&wanted).is_some_and(|s| {
                Some(s.app_id) == app_id
                    && s.buffer.front().is_none_or(|(first, _)| *first <= seq + 1)
                    && seq <= s.seq
            });
            let Some(app_id) = app_id else {
                let _ = tx.send(Outbound::Close(4004, "Authentication failed.".into()));
                return;
            };
            if !resumable {
                world
                    .handshakes
                    .entry(app_id)
                    .or_default()
                    .push(Handshake::ResumeRefused { session_id: wanted });
                let _ = tx.send(Outbound::Text(frame(9, json!(false))));
                return;
            }
            world
                .handshakes
                .entry(app_id)
                .or_default()
                .push(Handshake::Resume {
                    session_id: wanted.clone(),
                    seq,
                });
            let session = world.sessions.get_mut(&wanted).expect("checked above");
            if let Some(old) = session.tx.replace(tx.clone()) {
                // The old connection may still be open; Discord drops it when a resume succeeds.
                let _ = old.send(Outbound::Close(4000, "Session resumed elsewhere.".into()));
            }
            session.connection = connection;
            for (s, text) in &session.buffer {
                if *s > seq {
                    let _ = tx.send(Outbound::Text(text.clone()));
                }
            }
            *session_id = Some(wanted.clone());
            tracing::debug!(session = %wanted, seq, "resumed");
            push_dispatch(&mut world, &wanted, "RESUMED", json!({}));
        }
        3 | 4 | 8 => {
            // Presence, voice state and member requests are accepted and ignored.
            if session_id.is_none() {
                let _ = tx.send(Outbound::Close(4003, "Not authenticated.".into()));
            }
        }
        _ => {
            let _ = tx.send(Outbound::Close(4001, "Unknown opcode.".into()));
        }
    }
}

/// Sends one dispatch on a session (or buffers it while disconnected) with the next sequence.
pub(crate) fn push_dispatch(world: &mut World, session_id: &str, event: &str, d: Value) {
    let Some(session) = world.sessions.get_mut(session_id) else {
        return;
    };
    session.seq += 1;
    let text = json!({ "op": 0, "t": event, "s": session.seq, "d": d }).to_string();
    session.buffer.push_back((session.seq, text.clone()));
    while session.buffer.len() > REPLAY_BUFFER {
        session.buffer.pop_front();
    }
    if let Some(tx) = &session.tx {
        let _ = tx.send(Outbound::Text(text));
    }
}

/// Whether a guild's events belong to a shard.
fn on_shard(shard: Option<[u64; 2]>, guild_id: u64) -> bool {
    match shard {
        Some([id, count]) if count > 1 => (guild_id >> 22) % count == id,
        _ => true,
    }
}

/// Sends an event to every session of the apps `payload_for` returns a payload for; events of
/// a guild go only to the shard responsible for it.
fn dispatch_each(
    world: &mut World,
    event: &str,
    intent: u64,
    guild_id: Option<u64>,
    payload_for: impl Fn(&World, &App, u64) -> Option<Value>,
) {
    let mut targets: Vec<(String, Value)> = Vec::new();
    for session in world.sessions.values() {
        if intent != 0 && session.intents & intent == 0 {
            continue;
        }
        if let Some(guild) = guild_id
            && !on_shard(session.shard, guild)
        {
            continue;
        }
        let Some(app) = world.apps.get(&session.app_id) else {
            continue;
        };
        if let Some(payload) = payload_for(world, app, session.intents) {
            targets.push((session.id.clone(), payload));
        }
    }
    for (session_id, payload) in targets {
        push_dispatch(world, &session_id, event, payload);
    }
}

/// Whether an app's bot is in the message's guild and can see its channel.
fn app_sees(world: &World, app: &App, message: &Message) -> bool {
    match message.guild_id {
        Some(guild) => {
            world
                .guilds
                .get(&guild)
                .is_some_and(|g| g.apps.contains(&app.id))
                && world.channel_permissions(message.channel_id, app.bot_user_id)
                    & crate::permissions::VIEW_CHANNEL
                    != 0
        }
        None => world
            .channels
            .get(&message.channel_id)
            .is_some_and(|c| c.recipients.contains(&app.bot_user_id)),
    }
}

/// Dispatches MESSAGE_CREATE or MESSAGE_UPDATE, emptying content for apps without the
/// message-content intent unless the message is exempt.
pub(crate) fn dispatch_message(world: &mut World, event: &str, message_id: u64) {
    let Some(message) = world.messages.get(&message_id).cloned() else {
        return;
    };
    if message.flags & FLAG_EPHEMERAL != 0 {
        // Ephemeral messages exist only for their one user; no gateway event announces them.
        return;
    }
    let intent = if message.guild_id.is_some() {
        INTENT_GUILD_MESSAGES
    } else {
        INTENT_DIRECT_MESSAGES
    };
    let full = world.message_event_json(&message);
    dispatch_each(
        world,
        event,
        intent,
        message.guild_id,
        |world, app, intents| {
            if !app_sees(world, app, &message) {
                return None;
            }
            let mut payload = full.clone();
            if intents & INTENT_MESSAGE_CONTENT == 0 && !world.content_exempt(app, &message) {
                redact(&mut payload);
            }
            Some(payload)
        },
    );
}

/// Empties the fields the message-content intent protects.
pub(crate) fn redact(payload: &mut Value) {
    payload["content"] = json!("");
    payload["embeds"] = json!([]);
    payload["attachments"] = json!([]);
    payload["components"] = json!([]);
    if let Some(obj) = payload.as_object_mut() {
        obj.remove("poll");
    }
}

/// Dispatches MESSAGE_DELETE to apps that can see the channel.
pub(crate) fn dispatch_message_delete(world: &mut World, message_id: u64) {
    let Some(message) = world.messages.get(&message_id).cloned() else {
        return;
    };
    if message.flags & FLAG_EPHEMERAL != 0 {
        return;
    }
    let intent = if message.guild_id.is_some() {
        INTENT_GUILD_MESSAGES
    } else {
        INTENT_DIRECT_MESSAGES
    };
    let mut payload = json!({
        "id": message.id.to_string(),
        "channel_id": message.channel_id.to_string(),
    });
    if let Some(guild) = message.guild_id {
        payload["guild_id"] = json!(guild.to_string());
    }
    dispatch_each(
        world,
        "MESSAGE_DELETE",
        intent,
        message.guild_id,
        |world, app, _| app_sees(world, app, &message).then(|| payload.clone()),
    );
}

/// Dispatches INTERACTION_CREATE to the application the interaction is for.
pub(crate) fn dispatch_interaction(world: &mut World, interaction_id: u64) {
    let Some(interaction) = world.interactions.get(&interaction_id) else {
        return;
    };
    let (app_id, payload) = (interaction.application_id, interaction.payload.clone());
    let guild_id = interaction.guild_id;
    dispatch_each(world, "INTERACTION_CREATE", 0, guild_id, |_, app, _| {
        (app.id == app_id).then(|| payload.clone())
    });
}

/// Dispatches GUILD_CREATE to an app's sessions, e.g. when its bot joins a guild.
pub(crate) fn dispatch_guild_create(world: &mut World, guild_id: u64, app_id: u64) {
    let Some(guild) = world.guilds.get(&guild_id).cloned() else {
        return;
    };
    dispatch_each(
        world,
        "GUILD_CREATE",
        INTENT_GUILDS,
        Some(guild_id),
        |world, app, _| (app.id == app_id).then(|| world.guild_json(&guild, Some(app))),
    );
}

/// Dispatches GUILD_UPDATE (the guild object without channels and members) to the apps in
/// the guild.
pub(crate) fn dispatch_guild_update(world: &mut World, guild_id: u64) {
    let Some(guild) = world.guilds.get(&guild_id).cloned() else {
        return;
    };
    let payload = world.guild_json(&guild, None);
    dispatch_each(
        world,
        "GUILD_UPDATE",
        INTENT_GUILDS,
        Some(guild_id),
        |_, _, _| Some(payload.clone()),
    );
}

/// Dispatches CHANNEL_CREATE (or THREAD_CREATE) to the apps in the channel's guild.
pub(crate) fn dispatch_channel_create(world: &mut World, channel_id: u64) {
    let Some(channel) = world.channels.get(&channel_id).cloned() else {
        return;
    };
    let event = if channel.is_thread() {
        "THREAD_CREATE"
    } else {
        "CHANNEL_CREATE"
    };
    dispatch_channel_event(world, &channel, event);
}

/// Dispatches CHANNEL_DELETE (or THREAD_DELETE) for a channel that was just removed.
pub(crate) fn dispatch_channel_delete(world: &mut World, channel: &crate::world::Channel) {
    let event = if channel.is_thread() {
        "THREAD_DELETE"
    } else {
        "CHANNEL_DELETE"
    };
    dispatch_channel_event(world, channel, event);
}

fn dispatch_channel_event(world: &mut World, channel: &crate::world::Channel, event: &str) {
    let Some(guild_id) = channel.guild_id else {
        return;
    };
    let payload = world.channel_json(channel);
    dispatch_each(
        world,
        event,
        INTENT_GUILDS,
        Some(guild_id),
        |world, app, _| {
            world
                .guilds
                .get(&guild_id)
                .is_some_and(|g| g.apps.contains(&app.id))
                .then(|| payload.clone())
        },
    );
}

/// Dispatches WEBHOOKS_UPDATE for a channel whose webhooks changed.
pub(crate) fn dispatch_webhooks_update(world: &mut World, guild_id: u64, channel_id: u64) {
    let payload = json!({ "guild_id": guild_id.to_string(), "channel_id": channel_id.to_string() });
    dispatch_each(
        world,
        "WEBHOOKS_UPDATE",
        INTENT_GUILD_WEBHOOKS,
        Some(guild_id),
        |world, app, _| {
            world
                .guilds
                .get(&guild_id)
                .is_some_and(|g| g.apps.contains(&app.id))
                .then(|| payload.clone())
        },
    );
}

/// Dispatches GUILD_DELETE to an app whose bot left (or was removed from) a guild.
pub(crate) fn dispatch_guild_delete(world: &mut World, guild_id: u64, app_id: u64) {
    let payload = json!({ "id": guild_id.to_string() });
    dispatch_each(
        world,
        "GUILD_DELETE",
        INTENT_GUILDS,
        Some(guild_id),
        |_, app, _| (app.id == app_id).then(|| payload.clone()),
    );
}

/// Sends op 7 RECONNECT to every connected session of an app.
pub(crate) fn send_reconnect(world: &mut World, app_id: u64) -> usize {
    let mut sent = 0;
    for session in world.sessions.values().filter(|s| s.app_id == app_id) {
        if let Some(tx) = &session.tx {
            let _ = tx.send(Outbound::Text(frame(7, Value::Null)));
            sent += 1;
        }
    }
    sent
}

/// Forgets every session of an app that has no live connection, as Discord does once a closed
/// session has waited too long for its RESUME; a later RESUME of one gets INVALID_SESSION.
pub(crate) fn expire_sessions(world: &mut World, app_id: u64) -> usize {
    let before = world.sessions.len();
    world
        .sessions
        .retain(|_, s| s.app_id != app_id || s.tx.is_some());
    before - world.sessions.len()
}

/// Sends op 9 INVALID_SESSION to every connected session of an app; a non-resumable one is
/// forgotten, so a later RESUME fails as on Discord.
pub(crate) fn send_invalid_session(world: &mut World, app_id: u64, resumable: bool) -> usize {
    let mut sent = 0;
    let ids: Vec<String> = world
        .sessions
        .values()
        .filter(|s| s.app_id == app_id && s.tx.is_some())
        .map(|s| s.id.clone())
        .collect();
    for id in ids {
        if let Some(tx) = world.sessions.get(&id).and_then(|s| s.tx.clone()) {
            let _ = tx.send(Outbound::Text(frame(9, json!(resumable))));
            sent += 1;
        }
        if !resumable {
            world.sessions.remove(&id);
        }
    }
    sent
}
