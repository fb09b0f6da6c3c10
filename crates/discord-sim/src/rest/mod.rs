//! The REST API under `/api/v10`: routing, authorisation, fault injection, rate limits and the
//! record of every call.

mod body;
mod channels;
pub(crate) mod interactions;
mod meta;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::{
    Router,
    body::{Body, Bytes, to_bytes},
    extract::{MatchedPath, OriginalUri, Path, RawPathParams, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::ratelimit::{BucketState, bucket_hash};
use crate::shared::Shared;
use crate::world::{ClientId, FaultAction, RecordedCall};

/// The largest body the router buffers; larger uploads are refused with 40005 before parsing.
const BODY_CEILING: usize = 64 * 1024 * 1024;

/// Who is calling, as worked out by the gatekeeper middleware.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    pub(crate) client: ClientId,
}

impl Caller {
    /// The application of a bot-authenticated call; bot routes are only reached with one.
    pub(crate) fn app_id(&self) -> Result<u64, ApiError> {
        match self.client {
            ClientId::Bot(app) => Ok(app),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// A JSON response with status 200.
pub(crate) fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, axum::Json(value)).into_response())
}

/// An empty 204 response.
pub(crate) fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Parses an id path segment; Discord answers 404 for a segment that is not a snowflake.
pub(crate) fn snowflake(segment: &str) -> Result<u64, ApiError> {
    segment.parse().map_err(|_| ApiError::not_found())
}

/// Parses a JSON body, with Discord's 50109 for malformed JSON.
pub(crate) fn json_body(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes).map_err(|_| ApiError::invalid_json())
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    use axum::routing::post;
    let api = Router::new()
        .route("/users/@me", get(meta::current_user))
        .route("/users/{user_id}", get(meta::user))
        .route("/gateway", get(meta::gateway))
        .route("/gateway/bot", get(meta::gateway_bot))
        .route("/applications/@me", get(meta::application))
        .route("/oauth2/applications/@me", get(meta::application))
        .route(
            "/applications/{application_id}/commands",
            get(meta::list_global_commands).put(meta::overwrite_global_commands),
        )
        .route(
            "/applications/{application_id}/guilds/{guild_id}/commands",
            get(meta::list_guild_commands).put(meta::overwrite_guild_commands),
        )
        .route(
            "/interactions/{interaction_id}/{token}/callback",
            post(interactions::callback),
        )
        .route(
            "/webhooks/{webhook_id}",
            get(webhooks::get_webhook).delete(webhooks::delete_webhook),
        )
        .route(
            "/webhooks/{webhook_id}/{token}",
            post(webhooks::execute)
                .get(webhooks::get_webhook_with_token)
                .delete(webhooks::delete_webhook_with_token),
        )
        .route(
            "/webhooks/{webhook_id}/{token}/messages/{message_id}",
            get(webhooks::get_message)
                .patch(webhooks::edit_message)
                .delete(webhooks::delete_message),
        )
        .route(
            "/channels/{channel_id}/webhooks",
            get(webhooks::list_channel_webhooks).post(webhooks::create_webhook),
        )
        .route(
            "/guilds/{guild_id}/webhooks",
            get(webhooks::list_guild_webhooks),
        )
        .route("/channels/{channel_id}", get(channels::get_channel))
        .route(
            "/channels/{channel_id}/messages",
            get(channels::list_messages).post(channels::create_message),
        )
        .route(
            "/channels/{channel_id}/messages/{message_id}",
            get(channels::get_message)
                .patch(channels::edit_message)
                .delete(channels::delete_message),
        )
        .route("/guilds/{guild_id}", get(channels::get_guild))
        .route("/guilds/{guild_id}/channels", get(channels::guild_channels))
        .route("/guilds/{guild_id}/roles", get(channels::guild_roles))
        .route(
            "/guilds/{guild_id}/members/{user_id}",
            get(channels::guild_member),
        )
        .route_layer(middleware::from_fn_with_state(shared.clone(), gatekeeper))
        .method_not_allowed_fallback(unrouted)
        .fallback(unrouted);
    Router::new()
        .nest("/api/v10", api)
        .route("/attachments/{*path}", get(cdn))
        .route("/", get(crate::gateway::upgrade))
        .with_state(shared)
}

/// Answers routes the simulator does not serve, as Discord answers unknown routes and methods,
/// and records the call so a test can see what its client tried.
async fn unrouted(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    route: Option<MatchedPath>,
) -> Response {
    let error = if route.is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed")
    } else {
        ApiError::not_found()
    };
    {
        let mut world = shared.lock();
        let client = match headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            None => ClientId::Anonymous,
            Some(value) => match value
                .strip_prefix("Bot ")
                .and_then(|t| world.app_by_token(t))
            {
                Some(app) => ClientId::Bot(app.id),
                None => ClientId::InvalidToken,
            },
        };
        let at_ms = world.elapsed_ms();
        world.calls.push(RecordedCall {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            body: String::new(),
            status: error.status.as_u16(),
            error_code: Some(error.code),
            client,
            at_ms,
        });
        world.stats.entry(client).or_default().requests += 1;
    }
    shared.notify();
    error.into_response()
}

/// Serves an uploaded file, like Discord's CDN.
async fn cdn(State(shared): State<Arc<Shared>>, Path(path): Path<String>) -> Response {
    let world = shared.lock();
    match world.files.get(&format!("/attachments/{path}")) {
        Some((content_type, bytes)) => {
            let mut response = Response::new(Body::from(bytes.clone()));
            if let Some(value) = content_type
                .as_deref()
                .and_then(|c| HeaderValue::from_str(c).ok())
            {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Routes that take a webhook or interaction token instead of a bot token, and `GET /gateway`,
/// which needs no authorisation at all.
fn is_token_route(template: &str) -> bool {
    template.starts_with("/api/v10/webhooks/{webhook_id}/{token}")
        || template.starts_with("/api/v10/interactions/")
        || template == "/api/v10/gateway"
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = if pattern.starts_with("/api/") {
        pattern.to_owned()
    } else {
        format!("/api/v10{pattern}")
    };
    let want: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if want.last() == Some(&"**") {
        return got.len() >= want.len() - 1
            && want[..want.len() - 1]
                .iter()
                .zip(&got)
                .all(|(w, g)| *w == "*" || w == g);
    }
    want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| *w == "*" || w == g)
}

fn too_many(
    retry_after: Duration,
    scope: &str,
    global: bool,
    state: Option<&BucketState>,
) -> Response {
    let secs = retry_after.as_secs_f64().max(0.001);
    // The OpenAPI description requires `code` on every error body, 429s included.
    let body = json!({
        "code": 0,
        "message": "You are being rate limited.",
        "retry_after": (secs * 1000.0).ceil() / 1000.0,
        "global": global,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Some(state) = state {
        state.write_headers(headers);
    }
    headers.insert(
        "x-ratelimit-scope",
        HeaderValue::from_str(scope).expect("ascii scope"),
    );
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&(secs.ceil() as u64).max(1).to_string()).expect("digits"),
    );
    if global {
        headers.insert("x-ratelimit-global", HeaderValue::from_static("true"));
    }
    response
}

/// What the gatekeeper decided before running the handler.
enum Gate {
    /// Answer with this response (401, a real or forced 429) without running the handler.
    Refused(Response),
    /// Run the handler (after a latency or error fault, if any), adding the bucket's headers.
    Pass {
        bucket: Option<BucketState>,
        fault: Option<FaultAction>,
    },
}

/// Takes the first matching fault, counting down its remaining uses.
fn take_fault(world: &mut crate::world::World, method: &Method, path: &str) -> Option<FaultAction> {
    let fault = world
        .faults
        .iter_mut()
        .find(|f| {
            f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
                && path_matches(&f.path, path)
                && f.remaining != Some(0)
        })
        .map(|f| {
            if let Some(n) = f.remaining.as_mut() {
                *n -= 1;
            }
            f.action.clone()
        });
    world.faults.retain(|f| f.remaining != Some(0));
    fault
}

/// Authorises, injects faults, applies rate limits, runs the handler and records the call.
async fn gatekeeper(
    State(shared): State<Arc<Shared>>,
    matched: MatchedPath,
    params: RawPathParams,
    request: Request,
    next: Next,
) -> Response {
    // Inside the nested router the matched path may or may not carry the `/api/v10` prefix;
    // records and fault patterns always use the full path.
    let template = format!(
        "/api/v10{}",
        matched.as_str().trim_start_matches("/api/v10")
    );
    let method = request.method().clone();
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path().to_owned(), |u| u.path().to_owned());
    let query = request.uri().query().map(str::to_owned);
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, BODY_CEILING).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::too_large().into_response(),
    };
    let auth = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let (client, outcome) = {
        let mut world = shared.lock();
        let client = match &auth {
            None => ClientId::Anonymous,
            Some(value) => match value
                .strip_prefix("Bot ")
                .and_then(|t| world.app_by_token(t))
            {
                Some(app) => ClientId::Bot(app.id),
                None => ClientId::InvalidToken,
            },
        };
        let token_route = is_token_route(&template);
        let outcome = if !token_route && !matches!(client, ClientId::Bot(_)) {
            Gate::Refused(ApiError::unauthorized().into_response())
        } else {
            match take_fault(&mut world, &method, &path) {
                // A forced 429 looks like an exhausted bucket and does not use up a request.
                Some(FaultAction::RateLimit { retry_after, scope }) => {
                    let global = scope == "global";
                    let state = BucketState {
                        limit: 1,
                        remaining: 0,
                        reset_after: retry_after,
                        bucket: if token_route {
                            bucket_hash("webhook")
                        } else {
                            bucket_hash(&format!("{method} {template}"))
                        },
                    };
                    Gate::Refused(too_many(
                        retry_after,
                        &scope,
                        global,
                        (!global).then_some(&state),
                    ))
                }
                fault => match apply_rate_limits(
                    &mut world,
                    client,
                    &method,
                    &template,
                    &params,
                    token_route,
                ) {
                    Err(limited) => Gate::Refused(*limited),
                    Ok(bucket) => Gate::Pass { bucket, fault },
                },
            }
        };
        (client, outcome)
    };

    let (mut response, bucket) = match outcome {
        Gate::Refused(response) => (response, None),
        Gate::Pass { bucket, fault } => {
            let early = match fault {
                Some(FaultAction::Latency(delay)) => {
                    tokio::time::sleep(delay).await;
                    None
                }
                Some(FaultAction::Error {
                    status,
                    code,
                    message,
                }) => {
                    let status =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    Some(ApiError::new(status, code, message).into_response())
                }
                _ => None,
            };
            let response = match early {
                Some(response) => response,
                None => {
                    let mut request = Request::from_parts(parts, Body::from(bytes.clone()));
                    request.extensions_mut().insert(Caller { client });
                    next.run(request).await
                }
            };
            (response, bucket)
        }
    };
    if let Some(bucket) = &bucket
        && response.status() != StatusCode::TOO_MANY_REQUESTS
    {
        bucket.write_headers(response.headers_mut());
    }

    // Error bodies are small; read them back to record the JSON error code.
    let status = response.status();
    let mut error_code = None;
    if status.is_client_error() || status.is_server_error() {
        let (parts, body) = response.into_parts();
        let body_bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
        error_code = serde_json::from_slice::<Value>(&body_bytes)
            .ok()
            .and_then(|v| v["code"].as_u64())
            .map(|c| c as u32);
        response = Response::from_parts(parts, Body::from(body_bytes));
    }
    {
        let mut world = shared.lock();
        let at_ms = world.elapsed_ms();
        world.calls.push(RecordedCall {
            method: method.to_string(),
            path,
            query,
            body: recorded_body(&bytes),
            status: status.as_u16(),
            error_code,
            client,
            at_ms,
        });
        let stats = world.stats.entry(client).or_default();
        stats.requests += 1;
        if status == StatusCode::TOO_MANY_REQUESTS {
            stats.rate_limited += 1;
        }
        if matches!(status.as_u16(), 401 | 403 | 429) {
            stats.invalid += 1;
        }
    }
    shared.notify();
    response
}

/// The body as recorded: large uploads are cut so long end-to-end runs stay small in memory.
fn recorded_body(bytes: &Bytes) -> String {
    const KEEP: usize = 256 * 1024;
    if bytes.len() <= KEEP {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut text = String::from_utf8_lossy(&bytes[..KEEP]).into_owned();
    text.push_str(&format!("... [{} more bytes]", bytes.len() - KEEP));
    text
}

/// Applies the global and bucket limits; Ok carries the bucket for the response headers.
fn apply_rate_limits(
    world: &mut crate::world::World,
    client: ClientId,
    method: &Method,
    template: &str,
    params: &[(String, String)],
    token_route: bool,
) -> Result<Option<BucketState>, Box<Response>> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limits = world.limits.clone();
    if token_route {
        // Interaction callbacks and interaction webhooks are not limited here, nor bound to the
        // global limit ("Rate Limits: Global Rate Limit" exempts interaction endpoints).
        let Some(webhook_id) = param("webhook_id").and_then(|w| w.parse::<u64>().ok()) else {
            return Ok(None);
        };
        if !world.webhooks.contains_key(&webhook_id) {
            return Ok(None);
        }
        let key = format!("webhook:{webhook_id}");
        let (allowed, state) = world
            .ratelimiter
            .hit(&key, &bucket_hash("webhook"), limits.webhook);
        return if allowed {
            Ok(Some(state))
        } else {
            Err(Box::new(too_many(
                state.reset_after,
                "user",
                false,
                Some(&state),
            )))
        };
    }
    let ClientId::Bot(app) = client else {
        return Ok(None);
    };
    let global_key = format!("global:{app}");
    if let Err(wait) = world.ratelimiter.would_allow(&global_key, limits.global) {
        return Err(Box::new(too_many(wait, "global", true, None)));
    }
    let major = ["channel_id", "guild_id", "webhook_id"]
        .iter()
        .find_map(|name| param(name))
        .unwrap_or("");
    let route = format!("{method} {template}");
    let key = format!("route:{app}:{route}:{major}");
    let limit = limits
        .overrides
        .iter()
        .find(|o| {
            o.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
                && path_matches(&o.path, template)
        })
        .map_or(limits.route, |o| o.limit);
    let (allowed, state) = world.ratelimiter.hit(&key, &bucket_hash(&route), limit);
    if !allowed {
        return Err(Box::new(too_many(
            state.reset_after,
            "user",
            false,
            Some(&state),
        )));
    }
    world.ratelimiter.hit(&global_key, "global", limits.global);
    Ok(Some(state))
}

/// The `wait` and `thread_id` query parameters and friends, parsed leniently like Discord.
pub(crate) fn query_flag(query: &std::collections::HashMap<String, String>, name: &str) -> bool {
    query
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Reads the headers a handler needs alongside a body.
pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_patterns_match_segments() {
        assert!(path_matches("/webhooks/*/*", "/api/v10/webhooks/1/abc"));
        assert!(!path_matches(
            "/webhooks/*/*",
            "/api/v10/webhooks/1/abc/messages/2"
        ));
        assert!(path_matches(
            "/webhooks/**",
            "/api/v10/webhooks/1/abc/messages/2"
        ));
        assert!(path_matches("/api/v10/users/@me", "/api/v10/users/@me"));
    }
}
