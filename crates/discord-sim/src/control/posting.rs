//! A member posting, editing and deleting messages, and files stored under the simulator's CDN.
//! Members act only where Discord's client would let them.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::SimError;
use crate::gateway;
use crate::messages::{self, Author, Extra};
use crate::permissions;
use crate::world::{Attachment, Channel, MessageInput, Upload as ParsedUpload, store_file};

use super::{SimHandle, member_in_channel, require_member_permissions};

/// A file a member uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The file name.
    pub filename: String,
    /// The content type.
    pub content_type: Option<String>,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A message a member posts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDraft {
    /// The text.
    pub content: String,
    /// Files to attach.
    #[serde(default)]
    pub attachments: Vec<Upload>,
    /// The message this one replies to.
    #[serde(default)]
    pub reply_to: Option<u64>,
}

impl MessageDraft {
    /// A text-only message.
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            ..Self::default()
        }
    }
}

impl SimHandle {
    /// Posts a message as a member; apps in the guild get MESSAGE_CREATE.
    pub fn post_message(
        &self,
        channel_id: u64,
        user_id: u64,
        draft: MessageDraft,
    ) -> Result<u64, SimError> {
        self.with_world(|world| {
            member_in_channel(world, channel_id, user_id)?;
            let thread = world
                .channels
                .get(&channel_id)
                .is_some_and(Channel::is_thread);
            let send = if thread {
                permissions::SEND_MESSAGES_IN_THREADS
            } else {
                permissions::SEND_MESSAGES
            };
            let files = if draft.attachments.is_empty() {
                0
            } else {
                permissions::ATTACH_FILES
            };
            require_member_permissions(
                world,
                channel_id,
                user_id,
                permissions::VIEW_CHANNEL | send | files,
            )?;
            let mut payload = json!({ "content": draft.content });
            if let Some(reply) = draft.reply_to {
                payload["message_reference"] = json!({ "message_id": reply.to_string() });
            }
            let input = MessageInput {
                payload,
                uploads: draft
                    .attachments
                    .into_iter()
                    .enumerate()
                    .map(|(i, u)| ParsedUpload {
                        index: i as u64,
                        filename: u.filename,
                        content_type: u.content_type,
                        data: u.data,
                    })
                    .collect(),
            };
            if input.is_empty_message() {
                return Err(SimError::Invalid("an empty message".into()));
            }
            let id = messages::create(
                world,
                channel_id,
                Author::User(user_id),
                &input,
                Extra::default(),
            )
            .map_err(|e| SimError::Invalid(e.message))?;
            gateway::dispatch_message(world, "MESSAGE_CREATE", id);
            Ok(id)
        })
    }

    /// Edits a message's content (as its author would); apps get MESSAGE_UPDATE.
    pub fn edit_message(&self, message_id: u64, content: &str) -> Result<(), SimError> {
        self.with_world(|world| {
            let input = MessageInput {
                payload: json!({ "content": content }),
                uploads: Vec::new(),
            };
            messages::edit(world, message_id, &input).map_err(|e| SimError::Invalid(e.message))?;
            gateway::dispatch_message(world, "MESSAGE_UPDATE", message_id);
            Ok(())
        })
    }

    /// Deletes a message (as its author or a moderator would); apps get MESSAGE_DELETE.
    pub fn delete_message(&self, message_id: u64) -> Result<(), SimError> {
        self.with_world(|world| {
            messages::delete(world, message_id).map_err(|_| SimError::Unknown("message"))?;
            gateway::dispatch_message_delete(world, message_id);
            Ok(())
        })
    }

    /// Stores a file under the simulator's CDN and returns its attachment (with its URL).
    pub fn upload_attachment(
        &self,
        channel_id: u64,
        upload: Upload,
    ) -> Result<Attachment, SimError> {
        self.with_world(|world| {
            if !world.channels.contains_key(&channel_id) {
                return Err(SimError::Unknown("channel"));
            }
            Ok(store_file(
                world,
                channel_id,
                &upload.filename,
                upload.content_type,
                upload.data,
                None,
            ))
        })
    }
}
