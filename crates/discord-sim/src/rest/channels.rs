//! Channel messages and guild, channel, role and member look-ups ("Channel resource",
//! "Message resource", "Guild resource").

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    Extension,
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
};
use serde_json::Value;

use super::{ApiResult, Caller, no_content, ok, snowflake};
use crate::error::{ApiError, FormErrors};
use crate::gateway;
use crate::messages::{self, Author, Extra};
use crate::permissions::{
    ATTACH_FILES, MANAGE_MESSAGES, SEND_MESSAGES, SEND_MESSAGES_IN_THREADS, VIEW_CHANNEL,
};
use crate::shared::Shared;
use crate::world::{App, Message, MessageInput, World};

/// `READ_MESSAGE_HISTORY`, needed to fetch messages.
const READ_MESSAGE_HISTORY: u64 = 1 << 16;

fn bot(world: &World, caller: &Caller) -> Result<App, ApiError> {
    world
        .apps
        .get(&caller.app_id()?)
        .cloned()
        .ok_or_else(ApiError::unauthorized)
}

/// Message JSON as an app may read it over REST: without the message-content intent enabled,
/// content is emptied unless the message is exempt.
pub(crate) fn readable_message(world: &World, app: &App, message: &Message) -> Value {
    let mut value = world.message_json(message);
    if !app.message_content && !world.content_exempt(app, message) {
        gateway::redact(&mut value);
    }
    value
}

pub(crate) async fn get_channel(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(channel_id): Path<String>,
) -> ApiResult {
    let world = shared.lock();
    let app = bot(&world, &caller)?;
    let channel_id = snowflake(&channel_id)?;
    world.require_channel_permissions(channel_id, app.bot_user_id, 0)?;
    ok(world.channel_json(world.channel(channel_id)?))
}

pub(crate) async fn list_messages(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(channel_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let world = shared.lock();
    let app = bot(&world, &caller)?;
    let channel_id = snowflake(&channel_id)?;
    world.require_channel_permissions(channel_id, app.bot_user_id, READ_MESSAGE_HISTORY)?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let before = query
        .get("before")
        .and_then(|b| b.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    let after = query
        .get("after")
        .and_then(|b| b.parse::<u64>().ok())
        .unwrap_or(0);
    let list: Vec<Value> = world
        .messages
        .values()
        .rev()
        .filter(|m| m.channel_id == channel_id && !m.deleted && m.ephemeral_for.is_none())
        .filter(|m| m.id < before && m.id > after)
        .take(limit)
        .map(|m| readable_message(&world, &app, m))
        .collect();
    ok(Value::Array(list))
}

pub(crate) async fn create_message(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let channel_id = snowflake(&channel_id)?;
    let input = MessageInput::read(&headers, body).await?;
    let mut world = shared.lock();
    let app = bot(&world, &caller)?;
    let channel = world.channel(channel_id)?.clone();
    let send = if channel.is_thread() {
        SEND_MESSAGES_IN_THREADS
    } else {
        SEND_MESSAGES
    };
    let files = if input.uploads.is_empty() {
        0
    } else {
        ATTACH_FILES
    };
    world.require_channel_permissions(channel_id, app.bot_user_id, send | files)?;
    let mut errors = FormErrors::new();
    input.validate(&mut errors, false);
    errors.finish()?;
    if input.is_empty_message() {
        return Err(ApiError::empty_message());
    }
    let extra = Extra {
        flags: input.flags() & (4 | 4096),
        ..Extra::default()
    };
    let id = messages::create(
        &mut world,
        channel_id,
        Author::User(app.bot_user_id),
        &input,
        extra,
    )?;
    gateway::dispatch_message(&mut world, "MESSAGE_CREATE", id);
    let message = world.messages[&id].clone();
    drop(world);
    shared.notify();
    ok(shared.lock().message_json(&message))
}

fn find_message(world: &World, channel_id: u64, message_id: &str) -> Result<Message, ApiError> {
    let id = snowflake(message_id)?;
    world
        .messages
        .get(&id)
        .filter(|m| m.channel_id == channel_id && !m.deleted && m.ephemeral_for.is_none())
        .cloned()
        .ok_or_else(ApiError::unknown_message)
}

pub(crate) async fn get_message(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> ApiResult {
    let world = shared.lock();
    let app = bot(&world, &caller)?;
    let channel_id = snowflake(&channel_id)?;
    world.require_channel_permissions(channel_id, app.bot_user_id, READ_MESSAGE_HISTORY)?;
    let message = find_message(&world, channel_id, &message_id)?;
    ok(readable_message(&world, &app, &message))
}

pub(crate) async fn edit_message(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((channel_id, message_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let channel_id = snowflake(&channel_id)?;
    let input = MessageInput::read(&headers, body).await?;
    let mut world = shared.lock();
    let app = bot(&world, &caller)?;
    world.require_channel_permissions(channel_id, app.bot_user_id, 0)?;
    let message = find_message(&world, channel_id, &message_id)?;
    if message.author_id != app.bot_user_id || message.webhook_id.is_some() {
        return Err(ApiError::cannot_edit_others());
    }
    messages::edit(&mut world, message.id, &input)?;
    gateway::dispatch_message(&mut world, "MESSAGE_UPDATE", message.id);
    let value = world.message_json(&world.messages[&message.id]);
    drop(world);
    shared.notify();
    ok(value)
}

pub(crate) async fn delete_message(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> ApiResult {
    let channel_id = snowflake(&channel_id)?;
    let mut world = shared.lock();
    let app = bot(&world, &caller)?;
    let perms = world.require_channel_permissions(channel_id, app.bot_user_id, 0)?;
    let message = find_message(&world, channel_id, &message_id)?;
    let own = message.author_id == app.bot_user_id && message.webhook_id.is_none();
    if !own && perms & MANAGE_MESSAGES == 0 {
        return Err(ApiError::missing_permissions());
    }
    messages::delete(&mut world, message.id)?;
    gateway::dispatch_message_delete(&mut world, message.id);
    drop(world);
    shared.notify();
    no_content()
}

pub(crate) async fn get_guild(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(guild_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let world = shared.lock();
    let app = bot(&world, &caller)?;
    let guild = world.guild_for_member(snowflake(&guild_id)?, app.bot_user_id)?;
    let mut value = world.guild_json(guild, None);
    if super::query_flag(&query, "with_counts") {
        value["approximate_member_count"] = guild.members.len().into();
        value["approximate_presence_count"] = 0.into();
    }
    ok(value)
}

pub(crate) async fn guild_channels(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(guild_id): Path<String>,
) -> ApiResult {
    let world = shared.lock();
    let app = bot(&world, &caller)?;
    let guild = world.guild_for_member(snowflake(&guild_id)?, app.bot_user_id)?;
    let list: Vec<Value> = world
        .channels
        .values()
        .filter(|c| c.guild_id == Some(guild.id) && !c.is_thread())
        .filter(|c| world.channel_permissions(c.id, app.bot_user_id) & VIEW_CHANNEL != 0)
        .map(|c| world.channel_json(c))
        .collect();
    ok(Value::Array(list))
}

pub(crate) async fn guild_roles(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(guild_id): Path<String>,
) -> ApiResult {
    let world = shared.lock();
    let app = bot(&world, &caller)?;
    let guild = world.guild_for_member(snowflake(&guild_id)?, app.bot_user_id)?;
    ok(Value::Array(
        guild.roles.iter().map(World::role_json).collect(),
    ))
}

pub(crate) async fn guild_member(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((guild_id, user_id)): Path<(String, String)>,
) -> ApiResult {
    let world = shared.lock();
    let app = bot(&world, &caller)?;
    let guild = world.guild_for_member(snowflake(&guild_id)?, app.bot_user_id)?;
    let member = guild
        .members
        .get(&snowflake(&user_id)?)
        .ok_or_else(ApiError::unknown_member)?;
    ok(world.member_json(member, true))
}
