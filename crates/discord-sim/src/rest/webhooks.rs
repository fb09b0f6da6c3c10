//! Channel webhooks and the webhook-token routes ("Webhook resource": Create, Get, Delete,
//! Execute Webhook, Edit/Delete Webhook Message), including interaction follow-ups and
//! `@original`, which Discord serves on the same routes with the application id
//! ("Receiving and Responding to Interactions: Followup Messages").

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    Extension,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
};
use serde_json::Value;

use super::{ApiResult, Caller, json_body, no_content, ok, query_flag, snowflake};
use crate::error::{ApiError, FormErrors};
use crate::gateway;
use crate::messages::{self, Author, Extra};
use crate::permissions::MANAGE_WEBHOOKS;
use crate::shared::Shared;
use crate::world::{FLAG_EPHEMERAL, FLAG_LOADING, Interaction, MessageInput, Webhook, World};

/// Discord allows this many webhooks per channel; the next one fails with 30007.
const MAX_WEBHOOKS_PER_CHANNEL: usize = 15;

/// What a `/webhooks/{id}/{token}` pair names.
enum Hook {
    Channel(Webhook),
    Interaction(Interaction),
}

fn resolve(world: &World, webhook_id: &str, token: &str) -> Result<Hook, ApiError> {
    let id = snowflake(webhook_id)?;
    if let Some(webhook) = world.webhooks.get(&id) {
        if webhook.token != token {
            return Err(ApiError::invalid_webhook_token());
        }
        return Ok(Hook::Channel(webhook.clone()));
    }
    if world.apps.contains_key(&id) {
        let interaction = world
            .interactions
            .values()
            .find(|i| i.application_id == id && i.token == token)
            .filter(|i| i.created.elapsed() < world.interaction_token_lifetime)
            .cloned();
        return match interaction {
            Some(interaction) => Ok(Hook::Interaction(interaction)),
            None => Err(ApiError::invalid_webhook_token()),
        };
    }
    Err(ApiError::unknown_webhook())
}

fn check_upload_size(world: &World, input: &MessageInput) -> Result<(), ApiError> {
    let total: u64 = input.uploads.iter().map(|u| u.data.len() as u64).sum();
    if total > world.upload_limit {
        return Err(ApiError::too_large());
    }
    Ok(())
}

pub(crate) async fn execute(
    State(shared): State<Arc<Shared>>,
    Path((webhook_id, token)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let input = MessageInput::read(&headers, body).await?;
    let mut world = shared.lock();
    let hook = resolve(&world, &webhook_id, &token)?;
    let mut errors = FormErrors::new();
    input.validate(&mut errors, matches!(hook, Hook::Channel(_)));
    errors.finish()?;
    check_upload_size(&world, &input)?;
    if input.is_empty_message() {
        return Err(ApiError::empty_message());
    }
    let (id, respond) = match hook {
        Hook::Channel(webhook) => {
            let mut channel_id = webhook.channel_id;
            if let Some(thread) = query.get("thread_id") {
                let thread_id = thread
                    .parse::<u64>()
                    .map_err(|_| ApiError::unknown_channel())?;
                let thread = world.channel(thread_id)?;
                if !thread.is_thread() || thread.parent_id != Some(webhook.channel_id) {
                    return Err(ApiError::unknown_channel());
                }
                channel_id = thread_id;
            } else if world.channel(channel_id)?.kind == crate::world::CHANNEL_GUILD_FORUM {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    220001,
                    "Webhooks posted to forum channels must have a thread_name or thread_id",
                ));
            }
            let author = Author::Webhook {
                id: webhook.id,
                name: webhook.name.clone(),
                avatar: webhook.avatar.clone(),
                application_id: webhook.application_id,
            };
            let extra = Extra {
                flags: input.flags() & (4 | 4096 | 32768),
                ..Extra::default()
            };
            let id = messages::create(&mut world, channel_id, author, &input, extra)?;
            (id, query_flag(&query, "wait"))
        }
        Hook::Interaction(interaction) => (followup(&mut world, &interaction, &input)?, true),
    };
    let event = if world.messages[&id].edited_timestamp.is_some() {
        "MESSAGE_UPDATE"
    } else {
        "MESSAGE_CREATE"
    };
    gateway::dispatch_message(&mut world, event, id);
    let value = world.message_json(&world.messages[&id]);
    drop(world);
    shared.notify();
    if respond { ok(value) } else { no_content() }
}

/// Sends a follow-up; the first follow-up after a deferred response replaces the loading
/// message, as Discord does.
fn followup(
    world: &mut World,
    interaction: &Interaction,
    input: &MessageInput,
) -> Result<u64, ApiError> {
    if interaction.response.is_none() {
        return Err(ApiError::unknown_webhook());
    }
    if let Some(original) = interaction.original_message_id
        && world
            .messages
            .get(&original)
            .is_some_and(|m| m.flags & FLAG_LOADING != 0 && !m.deleted)
    {
        messages::edit(world, original, input)?;
        return Ok(original);
    }
    let app = &world.apps[&interaction.application_id];
    let author = Author::Interaction {
        app_id: app.id,
        bot_user_id: app.bot_user_id,
    };
    let flags = input.flags() & (4 | 4096 | FLAG_EPHEMERAL | 32768);
    let extra = Extra {
        kind: if interaction.kind == 2 { 20 } else { 0 },
        flags,
        interaction_metadata: Some(crate::rest::interactions::metadata(world, interaction)),
        ephemeral_for: (flags & FLAG_EPHEMERAL != 0).then_some(interaction.user_id),
    };
    let id = messages::create(world, interaction.channel_id, author, input, extra)?;
    if let Some(stored) = world.interactions.get_mut(&interaction.id) {
        stored.followups.push(id);
    }
    Ok(id)
}

/// The message a webhook route names: `@original` or a follow-up for interactions, any of the
/// webhook's own messages for channel webhooks.
fn target_message(
    world: &World,
    hook: &Hook,
    message_id: &str,
    thread_id: Option<&String>,
) -> Result<u64, ApiError> {
    match hook {
        Hook::Interaction(interaction) => {
            let id = if message_id == "@original" {
                interaction
                    .original_message_id
                    .or(interaction.component_message_id.filter(|_| {
                        interaction
                            .response
                            .as_ref()
                            .is_some_and(|r| matches!(r.kind, 6 | 7))
                    }))
                    .ok_or_else(ApiError::unknown_message)?
            } else {
                let id = snowflake(message_id)?;
                if !interaction.followups.contains(&id)
                    && interaction.original_message_id != Some(id)
                {
                    return Err(ApiError::unknown_message());
                }
                id
            };
            world
                .messages
                .get(&id)
                .filter(|m| !m.deleted)
                .map(|m| m.id)
                .ok_or_else(ApiError::unknown_message)
        }
        Hook::Channel(webhook) => {
            let id = snowflake(message_id).map_err(|_| ApiError::unknown_message())?;
            // A message in a thread is found only with its `thread_id`, as on Discord: without
            // one the webhook's own channel is searched.
            let channel = match thread_id {
                Some(thread) => thread
                    .parse::<u64>()
                    .map_err(|_| ApiError::unknown_channel())?,
                None => webhook.channel_id,
            };
            world
                .messages
                .get(&id)
                .filter(|m| !m.deleted && m.webhook_id == Some(webhook.id))
                .filter(|m| m.channel_id == channel)
                .map(|m| m.id)
                .ok_or_else(ApiError::unknown_message)
        }
    }
}

pub(crate) async fn get_message(
    State(shared): State<Arc<Shared>>,
    Path((webhook_id, token, message_id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let world = shared.lock();
    let hook = resolve(&world, &webhook_id, &token)?;
    let id = target_message(&world, &hook, &message_id, query.get("thread_id"))?;
    ok(world.message_json(&world.messages[&id]))
}

pub(crate) async fn edit_message(
    State(shared): State<Arc<Shared>>,
    Path((webhook_id, token, message_id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let input = MessageInput::read(&headers, body).await?;
    let mut world = shared.lock();
    let hook = resolve(&world, &webhook_id, &token)?;
    check_upload_size(&world, &input)?;
    let id = target_message(&world, &hook, &message_id, query.get("thread_id"))?;
    messages::edit(&mut world, id, &input)?;
    gateway::dispatch_message(&mut world, "MESSAGE_UPDATE", id);
    let value = world.message_json(&world.messages[&id]);
    drop(world);
    shared.notify();
    ok(value)
}

pub(crate) async fn delete_message(
    State(shared): State<Arc<Shared>>,
    Path((webhook_id, token, message_id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let mut world = shared.lock();
    let hook = resolve(&world, &webhook_id, &token)?;
    let id = target_message(&world, &hook, &message_id, query.get("thread_id"))?;
    messages::delete(&mut world, id)?;
    gateway::dispatch_message_delete(&mut world, id);
    drop(world);
    shared.notify();
    no_content()
}

pub(crate) async fn create_webhook(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(channel_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let app_id = caller.app_id()?;
    let channel_id = snowflake(&channel_id)?;
    let input = json_body(&body)?;
    let mut world = shared.lock();
    let app = world.apps[&app_id].clone();
    let channel = world.channel(channel_id)?.clone();
    world.require_channel_permissions(channel_id, app.bot_user_id, MANAGE_WEBHOOKS)?;
    if !matches!(
        channel.kind,
        crate::world::CHANNEL_GUILD_TEXT | 5 | crate::world::CHANNEL_GUILD_FORUM
    ) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            50024,
            "Cannot execute action on this channel type",
        ));
    }
    let mut errors = FormErrors::new();
    match input.get("name").and_then(Value::as_str) {
        Some(name) => crate::validate::webhook_name(&mut errors, "name", name),
        None => errors.add("name", "BASE_TYPE_REQUIRED", "This field is required"),
    }
    errors.finish()?;
    if world
        .webhooks
        .values()
        .filter(|w| w.channel_id == channel_id)
        .count()
        >= MAX_WEBHOOKS_PER_CHANNEL
    {
        return Err(ApiError::max_webhooks());
    }
    let id = world.next_id();
    let webhook = Webhook {
        id,
        token: world.new_token(""),
        channel_id,
        guild_id: channel.guild_id.unwrap_or_default(),
        name: input["name"].as_str().unwrap_or_default().to_owned(),
        avatar: input
            .get("avatar")
            .and_then(Value::as_str)
            .map(crate::messages::image_hash),
        creator_id: Some(app.bot_user_id),
        application_id: Some(app.id),
    };
    world.webhooks.insert(id, webhook.clone());
    gateway::dispatch_webhooks_update(&mut world, webhook.guild_id, webhook.channel_id);
    let value = world.webhook_json(&webhook, true, true);
    drop(world);
    shared.notify();
    ok(value)
}

pub(crate) async fn list_channel_webhooks(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(channel_id): Path<String>,
) -> ApiResult {
    let app_id = caller.app_id()?;
    let channel_id = snowflake(&channel_id)?;
    let world = shared.lock();
    let bot = world.apps[&app_id].bot_user_id;
    world.require_channel_permissions(channel_id, bot, MANAGE_WEBHOOKS)?;
    let list: Vec<Value> = world
        .webhooks
        .values()
        .filter(|w| w.channel_id == channel_id)
        .map(|w| world.webhook_json(w, true, true))
        .collect();
    ok(Value::Array(list))
}

pub(crate) async fn list_guild_webhooks(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(guild_id): Path<String>,
) -> ApiResult {
    let app_id = caller.app_id()?;
    let world = shared.lock();
    let bot = world.apps[&app_id].bot_user_id;
    let guild = world.guild_for_member(snowflake(&guild_id)?, bot)?;
    if guild.base_permissions(bot) & MANAGE_WEBHOOKS == 0 {
        return Err(ApiError::missing_permissions());
    }
    let list: Vec<Value> = world
        .webhooks
        .values()
        .filter(|w| w.guild_id == guild.id)
        .map(|w| world.webhook_json(w, true, true))
        .collect();
    ok(Value::Array(list))
}

fn webhook_for_bot(world: &World, caller: &Caller, webhook_id: &str) -> Result<Webhook, ApiError> {
    let app_id = caller.app_id()?;
    let bot = world.apps[&app_id].bot_user_id;
    let webhook = world
        .webhooks
        .get(&snowflake(webhook_id)?)
        .cloned()
        .ok_or_else(ApiError::unknown_webhook)?;
    world.require_channel_permissions(webhook.channel_id, bot, MANAGE_WEBHOOKS)?;
    Ok(webhook)
}

pub(crate) async fn get_webhook(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(webhook_id): Path<String>,
) -> ApiResult {
    let world = shared.lock();
    let webhook = webhook_for_bot(&world, &caller, &webhook_id)?;
    ok(world.webhook_json(&webhook, true, true))
}

pub(crate) async fn delete_webhook(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(webhook_id): Path<String>,
) -> ApiResult {
    let mut world = shared.lock();
    let webhook = webhook_for_bot(&world, &caller, &webhook_id)?;
    world.webhooks.remove(&webhook.id);
    gateway::dispatch_webhooks_update(&mut world, webhook.guild_id, webhook.channel_id);
    drop(world);
    shared.notify();
    no_content()
}

fn channel_hook(world: &World, webhook_id: &str, token: &str) -> Result<Webhook, ApiError> {
    match resolve(world, webhook_id, token)? {
        Hook::Channel(webhook) => Ok(webhook),
        Hook::Interaction(_) => Err(ApiError::unknown_webhook()),
    }
}

pub(crate) async fn get_webhook_with_token(
    State(shared): State<Arc<Shared>>,
    Path((webhook_id, token)): Path<(String, String)>,
) -> ApiResult {
    let world = shared.lock();
    let webhook = channel_hook(&world, &webhook_id, &token)?;
    ok(world.webhook_json(&webhook, true, false))
}

pub(crate) async fn delete_webhook_with_token(
    State(shared): State<Arc<Shared>>,
    Path((webhook_id, token)): Path<(String, String)>,
) -> ApiResult {
    let mut world = shared.lock();
    let webhook = channel_hook(&world, &webhook_id, &token)?;
    world.webhooks.remove(&webhook.id);
    gateway::dispatch_webhooks_update(&mut world, webhook.guild_id, webhook.channel_id);
    drop(world);
    shared.notify();
    no_content()
}
