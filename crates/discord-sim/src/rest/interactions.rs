//! The interaction callback ("Receiving and Responding to Interactions: Responding to an
//! Interaction"): every response type, the 3-second deadline (10062) and the single initial
//! response rule (40060).

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
};
use serde_json::{Value, json};

use super::{ApiResult, no_content, ok, query_flag, snowflake};
use crate::error::{ApiError, FormErrors};
use crate::gateway;
use crate::messages::{self, Author, Extra};
use crate::shared::Shared;
use crate::world::{
    FLAG_EPHEMERAL, FLAG_LOADING, Interaction, InteractionResponse, MessageInput, World,
};

/// The `interaction_metadata` a response message carries.
pub(crate) fn metadata(world: &World, interaction: &Interaction) -> Value {
    let mut value = json!({
        "id": interaction.id.to_string(),
        "type": interaction.kind,
        "user": world.user_json(interaction.user_id),
        "authorizing_integration_owners": { "0": interaction.guild_id.unwrap_or_default().to_string() },
    });
    if let Some(name) = interaction.payload["data"]["name"].as_str() {
        value["name"] = json!(name);
    }
    if let Some(message) = interaction.component_message_id {
        value["interacted_message_id"] = json!(message.to_string());
    }
    value
}

/// Which callback types an interaction type accepts.
fn allowed_types(kind: u8) -> &'static [u8] {
    match kind {
        2 => &[4, 5, 9, 12],
        3 => &[4, 5, 6, 7, 9, 12],
        4 => &[8],
        5 => &[4, 5, 6, 7],
        _ => &[1],
    }
}

pub(crate) async fn callback(
    State(shared): State<Arc<Shared>>,
    Path((interaction_id, token)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let input = MessageInput::read(&headers, body).await?;
    let interaction_id = snowflake(&interaction_id)?;
    let mut world = shared.lock();
    let interaction = world
        .interactions
        .get(&interaction_id)
        .filter(|i| i.token == token)
        .cloned()
        .ok_or_else(ApiError::unknown_interaction)?;
    if interaction.response.is_some() {
        return Err(ApiError::already_acknowledged());
    }
    if interaction.created.elapsed() > world.interaction_deadline {
        return Err(ApiError::unknown_interaction());
    }
    let kind = input.payload["type"].as_u64().unwrap_or(0);
    let mut errors = FormErrors::new();
    if !allowed_types(interaction.kind)
        .iter()
        .any(|t| u64::from(*t) == kind)
    {
        errors.add(
            "type",
            "INTERACTION_RESPONSE_TYPE_INVALID",
            "Invalid interaction response type",
        );
    }
    errors.finish()?;
    let kind = kind as u8;
    let data = input.payload.get("data").cloned().unwrap_or(Value::Null);
    let data_input = MessageInput {
        payload: if data.is_object() {
            data.clone()
        } else {
            json!({})
        },
        uploads: input.uploads.clone(),
    };
    let app = world.apps[&interaction.application_id].clone();
    let author = Author::Interaction {
        app_id: app.id,
        bot_user_id: app.bot_user_id,
    };
    let wanted_flags = data_input.flags();
    let ephemeral = wanted_flags & FLAG_EPHEMERAL != 0;
    let mut message_id = None;
    match kind {
        4 | 5 => {
            let mut flags = wanted_flags & (4 | 4096 | FLAG_EPHEMERAL | 32768);
            if kind == 4 {
                let mut errors = FormErrors::new();
                data_input.validate(&mut errors, false);
                errors.finish()?;
                if data_input.is_empty_message() {
                    return Err(ApiError::empty_message());
                }
            } else {
                flags = (wanted_flags & FLAG_EPHEMERAL) | FLAG_LOADING;
            }
            let body = if kind == 4 {
                data_input.clone()
            } else {
                MessageInput::default()
            };
            let extra = Extra {
                kind: if interaction.kind == 2 { 20 } else { 0 },
                flags,
                interaction_metadata: Some(metadata(&world, &interaction)),
                ephemeral_for: ephemeral.then_some(interaction.user_id),
            };
            let id = messages::create(&mut world, interaction.channel_id, author, &body, extra)?;
            gateway::dispatch_message(&mut world, "MESSAGE_CREATE", id);
            message_id = Some(id);
        }
        7 => {
            let target = interaction
                .component_message_id
                .ok_or_else(ApiError::unknown_message)?;
            messages::edit(&mut world, target, &data_input)?;
            gateway::dispatch_message(&mut world, "MESSAGE_UPDATE", target);
            message_id = Some(target);
        }
        8 => {
            let mut errors = FormErrors::new();
            let choices = data["choices"].as_array().cloned().unwrap_or_default();
            if choices.len() > 25 {
                errors.add(
                    "data.choices",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                );
            }
            errors.finish()?;
        }
        9 => {
            let mut errors = FormErrors::new();
            for key in ["custom_id", "title", "components"] {
                if data.get(key).is_none_or(Value::is_null) {
                    errors.add(
                        &format!("data.{key}"),
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    );
                }
            }
            errors.finish()?;
        }
        _ => {}
    }
    if let Some(stored) = world.interactions.get_mut(&interaction_id) {
        stored.response = Some(InteractionResponse { kind, data });
        if matches!(kind, 4 | 5) {
            stored.original_message_id = message_id;
        }
    }
    let response = query_flag(&query, "with_response").then(|| {
        let message = message_id
            .and_then(|id| world.messages.get(&id))
            .map(|m| world.message_json(m));
        json!({
            "interaction": {
                "id": interaction.id.to_string(),
                "type": interaction.kind,
                "activity_instance_id": null,
                "response_message_id": message_id.map(|id| id.to_string()),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            },
            "resource": { "type": kind, "message": message },
        })
    });
    drop(world);
    shared.notify();
    match response {
        Some(value) => ok(value),
        None => no_content(),
    }
}
