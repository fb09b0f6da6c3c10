//! A message body as every path that makes a message sees it, whether the REST API read it
//! from a request or the control API built it for a member, and the checks Discord makes on
//! message content. It lives with the world so that message handling does not depend on the
//! REST layer; reading one from an HTTP body is `rest::body`'s job.

use serde_json::Value;

use crate::error::FormErrors;
use crate::validate;

use super::{Attachment, World};

/// One uploaded file part.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    /// `n` of `files[n]`.
    pub(crate) index: u64,
    pub(crate) filename: String,
    pub(crate) content_type: Option<String>,
    pub(crate) data: Vec<u8>,
}

/// A parsed message create or edit body.
#[derive(Debug, Clone, Default)]
pub(crate) struct MessageInput {
    pub(crate) payload: Value,
    pub(crate) uploads: Vec<Upload>,
}

impl MessageInput {
    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str)
    }

    pub(crate) fn array(&self, key: &str) -> Option<Vec<Value>> {
        self.payload.get(key).and_then(Value::as_array).cloned()
    }

    /// Checks content length, embed count and field types; `username` rules for webhooks.
    pub(crate) fn validate(&self, errors: &mut FormErrors, webhook: bool) {
        if let Some(list) = self.payload.get("embeds").and_then(Value::as_array) {
            validate::embeds(errors, list);
        }
        // Components v2 (flag 1 << 15) has its own layout rules, which are not simulated.
        if self.flags() & (1 << 15) == 0
            && let Some(list) = self.payload.get("components").and_then(Value::as_array)
        {
            validate::components(errors, list);
        }
        if self.uploads.len() > 10 {
            errors.add(
                "files",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 10 or fewer in length.",
            );
        }
        if let Some(content) = self.payload.get("content").filter(|v| !v.is_null()) {
            match content.as_str() {
                Some(text) if text.chars().count() > 2000 => errors.add(
                    "content",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 2000 or fewer in length.",
                ),
                Some(_) => {}
                None => errors.add(
                    "content",
                    "STRING_TYPE_CONVERT",
                    "Could not interpret value as string.",
                ),
            }
        }
        if let Some(embeds) = self.payload.get("embeds").filter(|v| !v.is_null()) {
            match embeds.as_array() {
                Some(list) if list.len() > 10 => errors.add(
                    "embeds",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 10 or fewer in length.",
                ),
                Some(_) => {}
                None => errors.add(
                    "embeds",
                    "LIST_TYPE_CONVERT",
                    "Only iterables may be used in a ListType",
                ),
            }
        }
        if let Some(allowed) = self
            .payload
            .get("allowed_mentions")
            .filter(|v| !v.is_null())
        {
            let parse = allowed.get("parse").and_then(Value::as_array);
            for (i, p) in parse.into_iter().flatten().enumerate() {
                if !matches!(p.as_str(), Some("users" | "roles" | "everyone")) {
                    errors.add(
                        &format!("allowed_mentions.parse.{i}"),
                        "BASE_TYPE_CHOICES",
                        "Value must be one of {'users', 'roles', 'everyone'}.",
                    );
                }
            }
            for key in ["users", "roles"] {
                let listed = allowed
                    .get(key)
                    .and_then(Value::as_array)
                    .is_some_and(|l| !l.is_empty());
                if listed && parse.is_some_and(|p| p.iter().any(|v| v.as_str() == Some(key))) {
                    errors.add(
                        "allowed_mentions",
                        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                        format!("parse:[\"{key}\"] and {key}: [ids...] are mutually exclusive."),
                    );
                }
            }
        }
        if webhook && let Some(username) = self.payload.get("username").filter(|v| !v.is_null()) {
            validate::webhook_name(errors, "username", username.as_str().unwrap_or_default());
        }
    }

    /// Whether the message would have nothing to show: Discord's 50006.
    pub(crate) fn is_empty_message(&self) -> bool {
        let content_empty = self.str("content").is_none_or(str::is_empty);
        let list_empty = |key: &str| self.array(key).is_none_or(|l| l.is_empty());
        content_empty
            && list_empty("embeds")
            && list_empty("components")
            && list_empty("sticker_ids")
            && self.uploads.is_empty()
            && self.payload.get("poll").is_none_or(Value::is_null)
    }

    /// The message flags the body asks for.
    pub(crate) fn flags(&self) -> u64 {
        self.payload
            .get("flags")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// Stores the uploads under the CDN and returns their attachment objects, honouring the
    /// `attachments` array's descriptions and file names.
    pub(crate) fn store_uploads(&self, world: &mut World, channel_id: u64) -> Vec<Attachment> {
        let meta = self.array("attachments").unwrap_or_default();
        let mut stored = Vec::new();
        for upload in &self.uploads {
            let info = meta.iter().find(|a| match &a["id"] {
                Value::Number(n) => n.as_u64() == Some(upload.index),
                Value::String(s) => s.parse::<u64>().ok() == Some(upload.index),
                _ => false,
            });
            let filename = info
                .and_then(|i| i["filename"].as_str())
                .unwrap_or(&upload.filename)
                .to_owned();
            let description = info
                .and_then(|i| i["description"].as_str())
                .map(str::to_owned);
            stored.push(store_file(
                world,
                channel_id,
                &filename,
                upload.content_type.clone(),
                upload.data.clone(),
                description,
            ));
        }
        stored
    }
}

/// Saves bytes under `/attachments/{channel}/{id}/{filename}` and describes them.
pub(crate) fn store_file(
    world: &mut World,
    channel_id: u64,
    filename: &str,
    content_type: Option<String>,
    data: Vec<u8>,
    description: Option<String>,
) -> Attachment {
    let id = world.next_id();
    let safe_name: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = format!("/attachments/{channel_id}/{id}/{safe_name}");
    let url = format!("{}{path}", world.base_url);
    let size = data.len() as u64;
    world.files.insert(path, (content_type.clone(), data));
    Attachment {
        id,
        filename: safe_name,
        size,
        content_type,
        description,
        url: url.clone(),
        proxy_url: url,
    }
}
