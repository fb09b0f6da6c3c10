//! The control API over HTTP under `/_sim/...`, for the binary and for processes that cannot
//! hold the Rust handle. Every route maps onto one [`SimHandle`] method; bodies and answers are
//! JSON, errors are `{"error": "..."}` with status 400, 404 or 504.

use std::sync::Arc;
use std::time::Duration;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, patch, post, put},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::control::{CommandInvocation, Fault, MessageDraft, SimHandle};
use crate::error::SimError;
use crate::ratelimit::{Limit, RateLimitConfig};
use crate::shared::Shared;
use crate::world::{ClientId, FaultAction, Overwrite};

type Answer = Result<Json<Value>, ControlError>;

/// A control-API failure as a JSON body.
struct ControlError(SimError);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            SimError::Unknown(_) => StatusCode::NOT_FOUND,
            SimError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({ "error": self.0.to_string() }))).into_response()
    }
}

impl From<SimError> for ControlError {
    fn from(error: SimError) -> Self {
        Self(error)
    }
}

fn id(value: u64) -> Answer {
    Ok(Json(json!({ "id": value.to_string() })))
}

fn done() -> Answer {
    Ok(Json(json!({})))
}

fn to_json(value: impl serde::Serialize) -> Answer {
    Ok(Json(serde_json::to_value(value).unwrap_or(Value::Null)))
}

/// Ids and permission bits may come as JSON numbers or as strings, as Discord writes them.
fn number(value: &Value) -> Result<u64, ControlError> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| {
            ControlError(SimError::Invalid(format!(
                "expected an id or a number, got {value}"
            )))
        })
}

fn field(body: &Value, key: &str) -> Result<u64, ControlError> {
    number(&body[key])
        .map_err(|_| ControlError(SimError::Invalid(format!("missing or invalid `{key}`"))))
}

fn text<'a>(body: &'a Value, key: &str) -> Result<&'a str, ControlError> {
    body[key]
        .as_str()
        .ok_or_else(|| ControlError(SimError::Invalid(format!("missing `{key}`"))))
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let handle = SimHandle { shared };
    Router::new()
        .route("/_sim/applications", post(create_application))
        .route("/_sim/users", post(create_user))
        .route("/_sim/guilds", post(create_guild))
        .route("/_sim/guilds/{id}/channels", post(create_channel))
        .route("/_sim/guilds/{id}/roles", post(create_role))
        .route("/_sim/guilds/{id}/members", post(add_member))
        .route("/_sim/guilds/{id}/bots", post(add_bot))
        .route("/_sim/guilds/{id}/everyone", put(set_everyone))
        .route("/_sim/guilds/{id}/locale", put(set_guild_locale))
        .route("/_sim/users/{id}/locale", put(set_user_locale))
        .route("/_sim/guilds/{id}/forums", post(create_forum))
        .route("/_sim/channels/{id}/threads", post(create_thread))
        .route("/_sim/channels/{id}/posts", post(create_forum_post))
        .route("/_sim/channels/{id}/thread-state", put(set_thread_state))
        .route("/_sim/channels/{id}/overwrites", put(set_overwrite))
        .route(
            "/_sim/channels/{id}/messages",
            post(post_message).get(list_messages),
        )
        .route("/_sim/channels/{id}/webhooks", get(list_webhooks))
        .route(
            "/_sim/messages/{id}",
            patch(edit_message).delete(delete_message),
        )
        .route("/_sim/interactions/commands", post(invoke_command))
        .route("/_sim/interactions/autocomplete", post(autocomplete))
        .route("/_sim/interactions/buttons", post(press_button))
        .route("/_sim/interactions/{id}", get(get_interaction))
        .route("/_sim/interactions/{id}/response", get(wait_response))
        .route("/_sim/interactions/{id}/reply", get(wait_reply))
        .route(
            "/_sim/interactions/{id}/messages",
            get(interaction_messages),
        )
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/rate-limits", put(set_rate_limits))
        .route("/_sim/interaction-deadline", put(set_deadline))
        .route("/_sim/webhooks/{id}", delete(delete_webhook))
        .route("/_sim/calls", get(calls).delete(clear_calls))
        .route("/_sim/stats", get(stats))
        .route("/_sim/gateway/{app}/reconnect", post(reconnect))
        .route("/_sim/gateway/{app}/invalidate", post(invalidate))
        .route("/_sim/gateway/{app}/expire", post(expire))
        .route("/_sim/gateway/{app}/handshakes", get(handshakes))
        .with_state(handle)
}

async fn create_application(State(sim): State<SimHandle>, Json(body): Json<Value>) -> Answer {
    let name = text(&body, "name")?;
    let content = body["message_content"].as_bool().unwrap_or(true);
    let app = sim.create_application_with(name, content);
    Ok(Json(
        json!({ "id": app.id.to_string(), "bot_user_id": app.bot_user_id.to_string(), "token": app.token }),
    ))
}

async fn create_user(State(sim): State<SimHandle>, Json(body): Json<Value>) -> Answer {
    id(sim.create_user(text(&body, "username")?))
}

async fn create_guild(State(sim): State<SimHandle>, Json(body): Json<Value>) -> Answer {
    id(sim.create_guild(text(&body, "name")?, field(&body, "owner_id")?)?)
}

async fn create_channel(
    State(sim): State<SimHandle>,
    Path(guild): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    id(sim.create_channel(guild, text(&body, "name")?)?)
}

async fn create_thread(
    State(sim): State<SimHandle>,
    Path(parent): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    let name = text(&body, "name")?;
    if body["private"].as_bool() == Some(true) {
        id(sim.create_private_thread(parent, name)?)
    } else {
        id(sim.create_thread(parent, name)?)
    }
}

async fn create_forum(
    State(sim): State<SimHandle>,
    Path(guild): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    id(sim.create_forum(guild, text(&body, "name")?)?)
}

async fn create_forum_post(
    State(sim): State<SimHandle>,
    Path(forum): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    id(sim.create_forum_post(
        forum,
        field(&body, "user_id")?,
        text(&body, "name")?,
        text(&body, "content")?,
    )?)
}

async fn set_thread_state(
    State(sim): State<SimHandle>,
    Path(thread): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    let flag = |key: &str| body[key].as_bool().unwrap_or(false);
    sim.set_thread_state(thread, flag("archived"), flag("locked"))?;
    done()
}

async fn create_role(
    State(sim): State<SimHandle>,
    Path(guild): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    id(sim.create_role(guild, text(&body, "name")?, field(&body, "permissions")?)?)
}

async fn add_member(
    State(sim): State<SimHandle>,
    Path(guild): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    let roles = body["roles"]
        .as_array()
        .map(|r| r.iter().map(number).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    sim.add_member(guild, field(&body, "user_id")?, &roles)?;
    done()
}

async fn add_bot(
    State(sim): State<SimHandle>,
    Path(guild): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    let role = sim.add_bot(
        guild,
        field(&body, "application_id")?,
        field(&body, "permissions")?,
    )?;
    Ok(Json(json!({ "role_id": role.to_string() })))
}

async fn set_everyone(
    State(sim): State<SimHandle>,
    Path(guild): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    sim.set_everyone_permissions(guild, field(&body, "permissions")?)?;
    done()
}

async fn set_guild_locale(
    State(sim): State<SimHandle>,
    Path(guild): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    sim.set_guild_locale(guild, text(&body, "locale")?)?;
    done()
}

async fn set_user_locale(
    State(sim): State<SimHandle>,
    Path(user): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    sim.set_user_locale(user, text(&body, "locale")?)?;
    done()
}

async fn set_overwrite(
    State(sim): State<SimHandle>,
    Path(channel): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    let overwrite = Overwrite {
        id: field(&body, "id")?,
        kind: body["type"].as_u64().unwrap_or(0) as u8,
        allow: number(&body["allow"]).unwrap_or(0),
        deny: number(&body["deny"]).unwrap_or(0),
    };
    sim.set_overwrite(channel, overwrite)?;
    done()
}

#[derive(Deserialize)]
struct PostMessage {
    user_id: u64,
    #[serde(flatten)]
    draft: MessageDraft,
}

async fn post_message(
    State(sim): State<SimHandle>,
    Path(channel): Path<u64>,
    Json(body): Json<PostMessage>,
) -> Answer {
    id(sim.post_message(channel, body.user_id, body.draft)?)
}

async fn list_messages(State(sim): State<SimHandle>, Path(channel): Path<u64>) -> Answer {
    to_json(sim.messages(channel))
}

async fn list_webhooks(State(sim): State<SimHandle>, Path(channel): Path<u64>) -> Answer {
    to_json(sim.webhooks(channel))
}

async fn edit_message(
    State(sim): State<SimHandle>,
    Path(message): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    sim.edit_message(message, text(&body, "content")?)?;
    done()
}

async fn delete_message(State(sim): State<SimHandle>, Path(message): Path<u64>) -> Answer {
    sim.delete_message(message)?;
    done()
}

async fn invoke_command(
    State(sim): State<SimHandle>,
    Json(body): Json<CommandInvocation>,
) -> Answer {
    to_json(sim.invoke_command(&body)?)
}

#[derive(Deserialize)]
struct Autocomplete {
    #[serde(flatten)]
    invocation: CommandInvocation,
    focused: String,
}

async fn autocomplete(State(sim): State<SimHandle>, Json(body): Json<Autocomplete>) -> Answer {
    to_json(sim.autocomplete(&body.invocation, &body.focused)?)
}

async fn press_button(State(sim): State<SimHandle>, Json(body): Json<Value>) -> Answer {
    let reference = sim.press_button(
        field(&body, "message_id")?,
        field(&body, "user_id")?,
        text(&body, "custom_id")?,
    )?;
    to_json(reference)
}

async fn get_interaction(State(sim): State<SimHandle>, Path(id): Path<u64>) -> Answer {
    let interaction = sim
        .interaction(id)
        .ok_or(SimError::Unknown("interaction"))?;
    to_json(interaction)
}

#[derive(Deserialize)]
struct Timeout {
    timeout_ms: Option<u64>,
}

async fn wait_response(
    State(sim): State<SimHandle>,
    Path(id): Path<u64>,
    Query(q): Query<Timeout>,
) -> Answer {
    let token = sim
        .interaction(id)
        .ok_or(SimError::Unknown("interaction"))?
        .token;
    let reference = crate::control::InteractionRef { id, token };
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(5_000));
    to_json(sim.wait_for_response(&reference, timeout).await?)
}

async fn wait_reply(
    State(sim): State<SimHandle>,
    Path(id): Path<u64>,
    Query(q): Query<Timeout>,
) -> Answer {
    let token = sim
        .interaction(id)
        .ok_or(SimError::Unknown("interaction"))?
        .token;
    let reference = crate::control::InteractionRef { id, token };
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(5_000));
    to_json(sim.wait_for_reply(&reference, timeout).await?)
}

async fn interaction_messages(State(sim): State<SimHandle>, Path(id): Path<u64>) -> Answer {
    to_json(sim.interaction_messages(id))
}

/// A fault as JSON: `{"path", "method"?, "times"?, "kind": "error"|"latency"|"rate_limit", ...}`.
#[derive(Deserialize)]
struct FaultSpec {
    method: Option<String>,
    path: String,
    times: Option<u32>,
    kind: String,
    status: Option<u16>,
    code: Option<u32>,
    message: Option<String>,
    latency_ms: Option<u64>,
    retry_after_ms: Option<u64>,
    scope: Option<String>,
}

async fn add_fault(State(sim): State<SimHandle>, Json(spec): Json<FaultSpec>) -> Answer {
    let action = match spec.kind.as_str() {
        "error" => FaultAction::Error {
            status: spec.status.unwrap_or(500),
            code: spec.code.unwrap_or(0),
            message: spec
                .message
                .unwrap_or_else(|| "Internal Server Error".into()),
        },
        "latency" => FaultAction::Latency(Duration::from_millis(spec.latency_ms.unwrap_or(0))),
        "rate_limit" => FaultAction::RateLimit {
            retry_after: Duration::from_millis(spec.retry_after_ms.unwrap_or(1_000)),
            scope: spec.scope.unwrap_or_else(|| "user".into()),
        },
        other => return Err(SimError::Invalid(format!("unknown fault kind {other}")).into()),
    };
    sim.inject_fault(Fault {
        method: spec.method,
        path: spec.path,
        action,
        times: spec.times,
    });
    done()
}

async fn clear_faults(State(sim): State<SimHandle>) -> Answer {
    sim.clear_faults();
    done()
}

fn limit(value: &Value, default: Limit) -> Limit {
    Limit {
        requests: value["requests"]
            .as_u64()
            .map_or(default.requests, |r| r as u32),
        window: value["window_ms"]
            .as_u64()
            .map_or(default.window, Duration::from_millis),
    }
}

async fn set_rate_limits(State(sim): State<SimHandle>, Json(body): Json<Value>) -> Answer {
    let defaults = RateLimitConfig::default();
    sim.set_rate_limits(RateLimitConfig {
        webhook: limit(&body["webhook"], defaults.webhook),
        global: limit(&body["global"], defaults.global),
        route: limit(&body["route"], defaults.route),
        overrides: body["overrides"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| {
                Some(crate::ratelimit::RouteLimit {
                    method: o["method"].as_str().map(str::to_owned),
                    path: o["path"].as_str()?.to_owned(),
                    limit: limit(o, defaults.route),
                })
            })
            .collect(),
    });
    done()
}

async fn set_deadline(State(sim): State<SimHandle>, Json(body): Json<Value>) -> Answer {
    sim.set_interaction_deadline(Duration::from_millis(field(&body, "ms")?));
    done()
}

async fn delete_webhook(State(sim): State<SimHandle>, Path(webhook): Path<u64>) -> Answer {
    if !sim.delete_webhook(webhook) {
        return Err(SimError::Unknown("webhook").into());
    }
    done()
}

async fn calls(State(sim): State<SimHandle>) -> Answer {
    to_json(sim.calls())
}

async fn clear_calls(State(sim): State<SimHandle>) -> Answer {
    sim.clear_calls();
    done()
}

async fn stats(State(sim): State<SimHandle>) -> Answer {
    let list: Vec<Value> = sim
        .all_client_stats()
        .into_iter()
        .map(|(client, stats)| {
            let client = match client {
                ClientId::Bot(app) => format!("bot:{app}"),
                ClientId::Anonymous => "anonymous".to_owned(),
                ClientId::InvalidToken => "invalid-token".to_owned(),
            };
            json!({ "client": client, "stats": stats })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn reconnect(State(sim): State<SimHandle>, Path(app): Path<u64>) -> Answer {
    Ok(Json(json!({ "sessions": sim.reconnect(app) })))
}

async fn invalidate(
    State(sim): State<SimHandle>,
    Path(app): Path<u64>,
    Json(body): Json<Value>,
) -> Answer {
    let resumable = body["resumable"].as_bool().unwrap_or(false);
    Ok(Json(
        json!({ "sessions": sim.invalidate_sessions(app, resumable) }),
    ))
}

async fn expire(State(sim): State<SimHandle>, Path(app): Path<u64>) -> Answer {
    Ok(Json(json!({ "sessions": sim.expire_sessions(app) })))
}

async fn handshakes(State(sim): State<SimHandle>, Path(app): Path<u64>) -> Answer {
    Ok(Json(json!(sim.handshakes(app))))
}
