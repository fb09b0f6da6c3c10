//! Message bodies: JSON or `multipart/form-data` with `payload_json` and `files[n]`, as in
//! "Reference: Uploading Files", and the checks Discord makes on message content.

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Multipart},
    http::{HeaderMap, Request, header},
};
use serde_json::Value;

use crate::error::{ApiError, FormErrors};
use crate::world::{Attachment, World};

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
    /// Reads a JSON or multipart body.
    pub(crate) async fn read(headers: &HeaderMap, bytes: Bytes) -> Result<Self, ApiError> {
        let content_type = super::content_type(headers);
        if !content_type.starts_with("multipart/form-data") {
            let payload = super::json_body(&bytes)?;
            if !payload.is_object() {
                return Err(ApiError::invalid_json());
            }
            return Ok(Self {
                payload,
                uploads: Vec::new(),
            });
        }
        let request = Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes))
            .map_err(|_| ApiError::invalid_json())?;
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|_| ApiError::invalid_json())?;
        let mut payload = Value::Object(Default::default());
        let mut uploads = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|_| ApiError::invalid_json())?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.file_name().map(str::to_owned);
            let field_type = field.content_type().map(str::to_owned);
            let data = field.bytes().await.map_err(|_| ApiError::invalid_json())?;
            if name == "payload_json" {
                payload = serde_json::from_slice(&data).map_err(|_| ApiError::invalid_json())?;
            } else if let Some(index) = name
                .strip_prefix("files[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok())
            {
                uploads.push(Upload {
                    index,
                    filename: filename.unwrap_or_else(|| format!("file{index}")),
                    content_type: field_type,
                    data: data.to_vec(),
                });
            } else if let Some(filename) = filename {
                // Older clients send `file` or `file1`; Discord still accepts any file field.
                let index = uploads.len() as u64;
                uploads.push(Upload {
                    index,
                    filename,
                    content_type: field_type,
                    data: data.to_vec(),
                });
            } else if let Ok(text) = std::str::from_utf8(&data) {
                // Plain form fields (`content=...`) are accepted alongside files.
                payload[name] = Value::String(text.to_owned());
            }
        }
        Ok(Self { payload, uploads })
    }

    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str)
    }

    pub(crate) fn array(&self, key: &str) -> Option<Vec<Value>> {
        self.payload.get(key).and_then(Value::as_array).cloned()
    }

    /// Checks content length, embed count and field types; `username` rules for webhooks.
    pub(crate) fn validate(&self, errors: &mut FormErrors, webhook: bool) {
        if let Some(list) = self.payload.get("embeds").and_then(Value::as_array) {
            crate::validate::embeds(errors, list);
        }
        // Components v2 (flag 1 << 15) has its own layout rules, which are not simulated.
        if self.flags() & (1 << 15) == 0
            && let Some(list) = self.payload.get("components").and_then(Value::as_array)
        {
            crate::validate::components(errors, list);
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
            crate::validate::webhook_name(
                errors,
                "username",
                username.as_str().unwrap_or_default(),
            );
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
