//! Users, gateway discovery, application info and application commands
//! ("User resource", "Gateway: Get Gateway Bot", "Application resource",
//! "Interactions: Application Commands").

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    Extension,
    body::Bytes,
    extract::{Path, Query, State},
};
use serde_json::{Value, json};

use super::{ApiResult, Caller, json_body, ok, query_flag, snowflake};
use crate::error::ApiError;
use crate::shared::Shared;
use crate::validate;
use crate::world::Command;

pub(crate) async fn current_user(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let world = shared.lock();
    let app = world
        .apps
        .get(&caller.app_id()?)
        .ok_or_else(ApiError::unauthorized)?;
    ok(world.current_user_json(app))
}

pub(crate) async fn user(
    State(shared): State<Arc<Shared>>,
    Path(user_id): Path<String>,
) -> ApiResult {
    let world = shared.lock();
    let id = snowflake(&user_id)?;
    if !world.users.contains_key(&id) {
        return Err(ApiError::unknown_user());
    }
    ok(world.user_json(id))
}

pub(crate) async fn gateway(State(shared): State<Arc<Shared>>) -> ApiResult {
    let world = shared.lock();
    ok(json!({ "url": world.base_url.replace("http://", "ws://") }))
}

pub(crate) async fn gateway_bot(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let world = shared.lock();
    let app = caller.app_id()?;
    let used = world.identifies.get(&app).copied().unwrap_or(0);
    let shards = world.recommended_shards.get(&app).copied().unwrap_or(1);
    ok(json!({
        "url": world.base_url.replace("http://", "ws://"),
        "shards": shards,
        "session_start_limit": { "total": 1000, "remaining": 1000u64.saturating_sub(used), "reset_after": 86_400_000, "max_concurrency": 1 },
    }))
}

pub(crate) async fn application(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    let world = shared.lock();
    let app = world
        .apps
        .get(&caller.app_id()?)
        .ok_or_else(ApiError::unauthorized)?;
    let flags = if app.message_content { 1 << 19 } else { 0 };
    ok(json!({
        "id": app.id.to_string(),
        "name": app.name,
        "icon": null,
        "description": "",
        "summary": "",
        "type": null,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": format!("{:064x}", app.id),
        "flags": flags,
        "bot": world.user_json(app.bot_user_id),
        "owner": world.user_json(app.owner_id),
        "team": null,
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "rpc_origins": [],
        "approximate_guild_count": world.guilds.values().filter(|g| g.apps.contains(&app.id)).count(),
    }))
}

fn own_app(caller: &Caller, application_id: &str) -> Result<u64, ApiError> {
    let app = caller.app_id()?;
    if snowflake(application_id)? != app {
        return Err(ApiError::missing_access());
    }
    Ok(app)
}

/// Lists commands. Without `with_localizations=true` Discord leaves the localisation
/// dictionaries out ("Get Global Application Commands"), so a bot that compares what it would
/// register with what is registered must ask for them.
fn list(shared: &Shared, app: u64, guild: Option<u64>, localizations: bool) -> ApiResult {
    let world = shared.lock();
    let commands: Vec<Value> = world
        .commands
        .iter()
        .filter(|c| c.application_id == app && c.guild_id == guild)
        .map(|c| {
            let mut body = c.body.clone();
            if !localizations {
                strip_localizations(&mut body);
            }
            body
        })
        .collect();
    ok(Value::Array(commands))
}

fn strip_localizations(value: &mut Value) {
    if let Some(object) = value.as_object_mut() {
        object.remove("name_localizations");
        object.remove("description_localizations");
        for child in object.values_mut() {
            strip_localizations(child);
        }
    } else if let Some(list) = value.as_array_mut() {
        list.iter_mut().for_each(strip_localizations);
    }
}

fn overwrite(shared: &Shared, app: u64, guild: Option<u64>, body: &Bytes) -> ApiResult {
    let input = json_body(body)?;
    let items = validate::commands(&input)?;
    let mut world = shared.lock();
    let old: Vec<Command> = world
        .commands
        .iter()
        .filter(|c| c.application_id == app && c.guild_id == guild)
        .cloned()
        .collect();
    world
        .commands
        .retain(|c| !(c.application_id == app && c.guild_id == guild));
    let mut out = Vec::new();
    for item in items {
        let kind = item["type"].as_u64().unwrap_or(1);
        // Discord keeps a command's id when a bulk overwrite names it again.
        let previous = old
            .iter()
            .find(|c| c.body["name"] == item["name"] && c.body["type"].as_u64() == Some(kind));
        let id = match previous {
            Some(c) => c.id,
            None => world.next_id(),
        };
        let version = world.next_id();
        let body = validate::command_json(&item, id, version, app, guild);
        out.push(body.clone());
        world.commands.push(Command {
            id,
            application_id: app,
            guild_id: guild,
            body,
        });
    }
    ok(Value::Array(out))
}

pub(crate) async fn list_global_commands(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(application_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let app = own_app(&caller, &application_id)?;
    list(&shared, app, None, query_flag(&query, "with_localizations"))
}

pub(crate) async fn overwrite_global_commands(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(application_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let app = own_app(&caller, &application_id)?;
    overwrite(&shared, app, None, &body)
}

fn guild_access(shared: &Shared, app: u64, guild_id: &str) -> Result<u64, ApiError> {
    let guild_id = snowflake(guild_id)?;
    let world = shared.lock();
    let guild = world
        .guilds
        .get(&guild_id)
        .ok_or_else(ApiError::unknown_guild)?;
    if !guild.apps.contains(&app) {
        return Err(ApiError::missing_access());
    }
    Ok(guild_id)
}

pub(crate) async fn list_guild_commands(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((application_id, guild_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let app = own_app(&caller, &application_id)?;
    let guild = guild_access(&shared, app, &guild_id)?;
    list(
        &shared,
        app,
        Some(guild),
        query_flag(&query, "with_localizations"),
    )
}

pub(crate) async fn overwrite_guild_commands(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((application_id, guild_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let app = own_app(&caller, &application_id)?;
    let guild = guild_access(&shared, app, &guild_id)?;
    overwrite(&shared, app, Some(guild), &body)
}
