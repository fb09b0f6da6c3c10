//! Creating, editing and deleting messages, shared by bot routes, webhooks, interaction
//! responses and the control API ("Message resource").

use serde_json::{Value, json};

use crate::error::{ApiError, FormErrors};
use crate::world::{Message, MessageInput, World, now_rfc3339};

/// Who a new message is from.
#[derive(Debug, Clone)]
pub(crate) enum Author {
    /// A member or a bot posting as itself.
    User(u64),
    /// A channel webhook, with the name and avatar shown on the message.
    Webhook {
        id: u64,
        name: String,
        avatar: Option<String>,
        /// The application that created the webhook; its messages carry `application_id`.
        application_id: Option<u64>,
    },
    /// An interaction response or follow-up: the bot user, sent through the app's webhook.
    Interaction { app_id: u64, bot_user_id: u64 },
}

/// Extra fields that only some message kinds carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    pub(crate) kind: u8,
    pub(crate) flags: u64,
    pub(crate) interaction_metadata: Option<Value>,
    pub(crate) ephemeral_for: Option<u64>,
}

/// Stores a new message; the caller has validated the input and dispatches the event.
pub(crate) fn create(
    world: &mut World,
    channel_id: u64,
    author: Author,
    input: &MessageInput,
    extra: Extra,
) -> Result<u64, ApiError> {
    let channel = world.channel(channel_id)?.clone();
    if channel.archived {
        // Posting reopens an archived thread, as Discord does for members, bots and webhooks
        // alike; a locked one stays shut.
        if channel.locked {
            return Err(ApiError::thread_archived());
        }
        if let Some(thread) = world.channels.get_mut(&channel_id) {
            thread.archived = false;
        }
    }
    let id = world.next_id();
    let attachments = input.store_uploads(world, channel_id);
    let mut kind = extra.kind;
    let mut reference = None;
    let mut replied_user = None;
    if let Some(wanted) = input
        .payload
        .get("message_reference")
        .filter(|v| !v.is_null())
    {
        let target = wanted["message_id"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .or_else(|| wanted["message_id"].as_u64())
            .and_then(|m| world.messages.get(&m))
            .filter(|m| !m.deleted && m.channel_id == channel_id);
        match target {
            Some(target) => {
                reference = Some(json!({
                    "type": 0,
                    "message_id": target.id.to_string(),
                    "channel_id": channel_id.to_string(),
                    "guild_id": channel.guild_id.map(|g| g.to_string()),
                }));
                if target.webhook_id.is_none() {
                    replied_user = Some(target.author_id);
                }
                kind = 19;
            }
            None if wanted["fail_if_not_exists"].as_bool() == Some(false) => {}
            None => {
                let mut errors = FormErrors::new();
                errors.add(
                    "message_reference",
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                );
                errors.finish()?;
            }
        }
    }
    let content = input.str("content").unwrap_or_default().to_owned();
    let allowed = input
        .payload
        .get("allowed_mentions")
        .filter(|v| !v.is_null())
        .cloned();
    let (mentions, mention_roles, mention_everyone) =
        world.resolve_mentions(channel.guild_id, &content, allowed.as_ref(), replied_user);
    let (author_id, author_name, author_avatar, author_bot, webhook_id, application_id) =
        match &author {
            Author::User(user) => {
                let u = world.users.get(user).ok_or_else(ApiError::unknown_user)?;
                (
                    *user,
                    u.username.clone(),
                    u.avatar.clone(),
                    u.bot,
                    None,
                    None,
                )
            }
            Author::Webhook {
                id,
                name,
                avatar,
                application_id,
            } => {
                let name = input
                    .str("username")
                    .map_or_else(|| name.clone(), str::to_owned);
                let avatar = input
                    .str("avatar_url")
                    .map(image_hash)
                    .or_else(|| avatar.clone());
                (*id, name, avatar, true, Some(*id), *application_id)
            }
            Author::Interaction {
                app_id,
                bot_user_id,
            } => {
                let name = world
                    .users
                    .get(bot_user_id)
                    .map(|u| u.username.clone())
                    .unwrap_or_default();
                (*bot_user_id, name, None, true, Some(*app_id), Some(*app_id))
            }
        };
    let message = Message {
        id,
        channel_id,
        guild_id: channel.guild_id,
        author_id,
        author_name,
        author_avatar,
        avatar_url: input.str("avatar_url").map(str::to_owned),
        author_bot,
        webhook_id,
        application_id,
        content,
        embeds: input.array("embeds").unwrap_or_default(),
        components: input.array("components").unwrap_or_default(),
        attachments,
        allowed_mentions: allowed,
        mentions,
        mention_roles,
        mention_everyone,
        flags: extra.flags,
        kind,
        timestamp: now_rfc3339(),
        edited_timestamp: None,
        tts: input.payload["tts"].as_bool().unwrap_or(false),
        interaction_metadata: extra.interaction_metadata,
        message_reference: reference,
        deleted: false,
        ephemeral_for: extra.ephemeral_for,
    };
    world.messages.insert(id, message);
    Ok(id)
}

/// Applies an edit; fields absent from the body stay as they were.
pub(crate) fn edit(
    world: &mut World,
    message_id: u64,
    input: &MessageInput,
) -> Result<(), ApiError> {
    let mut errors = FormErrors::new();
    input.validate(&mut errors, false);
    errors.finish()?;
    let mut message = world
        .messages
        .get(&message_id)
        .filter(|m| !m.deleted)
        .cloned()
        .ok_or_else(ApiError::unknown_message)?;
    // Discord changes no message of an archived thread, locked or not, until it is reopened.
    if world.channel(message.channel_id)?.archived {
        return Err(ApiError::thread_archived());
    }
    if let Some(content) = input.payload.get("content") {
        message.content = content.as_str().unwrap_or_default().to_owned();
    }
    if let Some(embeds) = input.payload.get("embeds") {
        message.embeds = embeds.as_array().cloned().unwrap_or_default();
    }
    if let Some(components) = input.payload.get("components") {
        message.components = components.as_array().cloned().unwrap_or_default();
    }
    if let Some(allowed) = input.payload.get("allowed_mentions") {
        message.allowed_mentions = (!allowed.is_null()).then(|| allowed.clone());
    }
    if let Some(flags) = input.payload.get("flags").and_then(Value::as_u64) {
        // Only SUPPRESS_EMBEDS can be changed by an edit.
        message.flags = (message.flags & !4) | (flags & 4);
    }
    let new_files = input.store_uploads(world, message.channel_id);
    if let Some(keep) = input.payload.get("attachments").and_then(Value::as_array) {
        let kept: Vec<String> = keep
            .iter()
            .filter_map(|a| match &a["id"] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect();
        message
            .attachments
            .retain(|a| kept.contains(&a.id.to_string()));
    }
    message.attachments.extend(new_files);
    let empty = message.content.is_empty()
        && message.embeds.is_empty()
        && message.components.is_empty()
        && message.attachments.is_empty();
    if empty {
        return Err(ApiError::empty_message());
    }
    let (mentions, roles, everyone) = world.resolve_mentions(
        message.guild_id,
        &message.content,
        message.allowed_mentions.as_ref(),
        None,
    );
    message.mentions = mentions;
    message.mention_roles = roles;
    message.mention_everyone = everyone;
    message.flags &= !crate::world::FLAG_LOADING;
    message.edited_timestamp = Some(now_rfc3339());
    world.messages.insert(message_id, message);
    Ok(())
}

/// Marks a message deleted; it stays in the record for tests.
pub(crate) fn delete(world: &mut World, message_id: u64) -> Result<(), ApiError> {
    let message = world
        .messages
        .get_mut(&message_id)
        .filter(|m| !m.deleted)
        .ok_or_else(ApiError::unknown_message)?;
    message.deleted = true;
    Ok(())
}

/// A 32-hex-digit image hash derived from some bytes, shaped like Discord's avatar hashes;
/// Discord downloads an `avatar_url` and shows it by hash, like any avatar.
pub(crate) fn image_hash(seed: &str) -> String {
    let first = crate::ratelimit::bucket_hash(seed);
    let second = crate::ratelimit::bucket_hash(&format!("{seed}#"));
    format!("{first}{second}")
}
