//! The control API on [`SimHandle`] (which [`crate::DiscordSim`] derefs to): build the world, act as a member, inject faults and read
//! back what the simulator saw. Tests use it directly; the binary exposes it over HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::SimError;
use crate::gateway;
use crate::messages::{self, Author, Extra};
use crate::permissions;
use crate::ratelimit::RateLimitConfig;
use crate::shared::Shared;
use crate::world::{
    App, Attachment, CHANNEL_DM, CHANNEL_GUILD_TEXT, CHANNEL_PUBLIC_THREAD, Channel, ClientId,
    ClientStats, Command, FaultAction, FaultRule, Guild, Handshake, Interaction,
    InteractionResponse, Member, Message, MessageInput, Overwrite, RecordedCall, Role,
    Upload as ParsedUpload, User, Webhook, World, now_rfc3339, store_file,
};

/// What a new application's creator needs: ids and the bot token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCredentials {
    /// The application id.
    pub id: u64,
    /// The bot user's id.
    pub bot_user_id: u64,
    /// The bot token (without `Bot `).
    pub token: String,
}

/// A fault on requests whose method and path match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// The HTTP method, or any when None.
    pub method: Option<String>,
    /// The path pattern, with or without `/api/v10`; `*` matches one segment, a final `**` any
    /// remainder. Example: `/webhooks/*/*`.
    pub path: String,
    /// What to do.
    pub action: FaultAction,
    /// How many requests to affect; None for every one.
    pub times: Option<u32>,
}

/// An interaction the simulator created, for reading its responses back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionRef {
    /// The interaction id.
    pub id: u64,
    /// The interaction token.
    pub token: String,
}

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

/// The value of one slash-command option, as a member fills it in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum CommandOptionValue {
    /// Type 3.
    String(String),
    /// Type 4.
    Integer(i64),
    /// Type 5.
    Boolean(bool),
    /// Type 6: resolved with the user and member.
    User(u64),
    /// Type 7: resolved with the channel.
    Channel(u64),
    /// Type 8: resolved with the role.
    Role(u64),
    /// Type 10.
    Number(f64),
    /// Type 11: the file is stored and resolved as an attachment.
    Attachment(Upload),
    /// Type 1: a sub-command with its own options.
    SubCommand(Vec<(String, CommandOptionValue)>),
    /// Type 2: a sub-command group holding one sub-command.
    SubCommandGroup(Vec<(String, CommandOptionValue)>),
}

/// A member invoking a slash command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandInvocation {
    /// The application whose command it is.
    pub application_id: u64,
    /// The channel it is invoked in (the guild follows from it).
    pub channel_id: u64,
    /// The invoking member.
    pub user_id: u64,
    /// The command name.
    pub name: String,
    /// Options, in order.
    #[serde(default)]
    pub options: Vec<(String, CommandOptionValue)>,
    /// Invoke even though the member lacks the command's `default_member_permissions`, as a
    /// server that overrode the command's permissions in its settings allows.
    #[serde(default)]
    pub permission_override: bool,
}

impl CommandInvocation {
    /// An invocation without options.
    pub fn new(
        application_id: u64,
        channel_id: u64,
        user_id: u64,
        name: impl Into<String>,
    ) -> Self {
        Self {
            application_id,
            channel_id,
            user_id,
            name: name.into(),
            options: Vec::new(),
            permission_override: false,
        }
    }

    /// Marks the invocation as allowed by a server-side permission override.
    pub fn with_permission_override(mut self) -> Self {
        self.permission_override = true;
        self
    }

    /// Adds an option.
    pub fn option(mut self, name: impl Into<String>, value: CommandOptionValue) -> Self {
        self.options.push((name.into(), value));
        self
    }
}

/// A cheap, clonable handle on a running simulator's world: the control API.
///
/// [`crate::DiscordSim`] derefs to it, so tests call `sim.create_guild(...)`; clone it with
/// [`crate::DiscordSim::handle`] to drive the simulator from another task.
#[derive(Debug, Clone)]
pub struct SimHandle {
    pub(crate) shared: Arc<Shared>,
}

fn option_type(value: &CommandOptionValue) -> u8 {
    match value {
        CommandOptionValue::SubCommand(_) => 1,
        CommandOptionValue::SubCommandGroup(_) => 2,
        CommandOptionValue::String(_) => 3,
        CommandOptionValue::Integer(_) => 4,
        CommandOptionValue::Boolean(_) => 5,
        CommandOptionValue::User(_) => 6,
        CommandOptionValue::Channel(_) => 7,
        CommandOptionValue::Role(_) => 8,
        CommandOptionValue::Number(_) => 10,
        CommandOptionValue::Attachment(_) => 11,
    }
}

impl SimHandle {
    fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let result = {
            let mut world = self.shared.lock();
            f(&mut world)
        };
        self.shared.notify();
        result
    }

    /// Polls `check` whenever the world changes until it returns Some or `timeout` passes.
    pub(crate) async fn wait<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut check: impl FnMut(&World) -> Option<T>,
    ) -> Result<T, SimError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(value) = check(&self.shared.lock()) {
                return Ok(value);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(SimError::Timeout(what.to_owned()));
            }
        }
    }

    // ----- building the world -----

    /// Creates a bot application with the message-content intent enabled.
    pub fn create_application(&self, name: &str) -> AppCredentials {
        self.create_application_with(name, true)
    }

    /// Creates a bot application; `message_content` says whether its privileged
    /// message-content intent is enabled (identifying with it otherwise closes with 4014).
    pub fn create_application_with(&self, name: &str, message_content: bool) -> AppCredentials {
        self.with_world(|world| {
            let id = world.next_id();
            let bot_user_id = world.next_id();
            let owner_id = world.next_id();
            world.users.insert(
                owner_id,
                User {
                    id: owner_id,
                    username: format!("{name}-owner"),
                    global_name: None,
                    avatar: None,
                    bot: false,
                },
            );
            let token = bot_token(bot_user_id, &world.new_token(""));
            world.users.insert(
                bot_user_id,
                User {
                    id: bot_user_id,
                    username: name.to_owned(),
                    global_name: None,
                    avatar: None,
                    bot: true,
                },
            );
            world.apps.insert(
                id,
                App {
                    id,
                    name: name.to_owned(),
                    bot_user_id,
                    owner_id,
                    token: token.clone(),
                    message_content,
                },
            );
            AppCredentials {
                id,
                bot_user_id,
                token,
            }
        })
    }

    /// Creates a (human) user.
    pub fn create_user(&self, username: &str) -> u64 {
        self.with_world(|world| {
            let id = world.next_id();
            world.users.insert(
                id,
                User {
                    id,
                    username: username.to_owned(),
                    global_name: Some(username.to_owned()),
                    avatar: None,
                    bot: false,
                },
            );
            id
        })
    }

    /// Creates a guild owned by `owner` (who becomes a member) with an `@everyone` role that has
    /// Discord's default permissions.
    pub fn create_guild(&self, name: &str, owner: u64) -> Result<u64, SimError> {
        self.with_world(|world| {
            if !world.users.contains_key(&owner) {
                return Err(SimError::Unknown("user"));
            }
            let id = world.next_id();
            let mut guild = Guild {
                id,
                name: name.to_owned(),
                owner_id: owner,
                roles: vec![Role {
                    id,
                    name: "@everyone".to_owned(),
                    permissions: permissions::DEFAULT_EVERYONE,
                    position: 0,
                    bot_id: None,
                }],
                members: Default::default(),
                apps: Default::default(),
            };
            guild.members.insert(owner, new_member(owner, Vec::new()));
            world.guilds.insert(id, guild);
            Ok(id)
        })
    }

    /// Creates a text channel in a guild.
    pub fn create_channel(&self, guild_id: u64, name: &str) -> Result<u64, SimError> {
        self.add_channel(Some(guild_id), CHANNEL_GUILD_TEXT, name, None, Vec::new())
    }

    /// Creates a public thread under a text channel.
    pub fn create_thread(&self, parent_id: u64, name: &str) -> Result<u64, SimError> {
        let guild = self
            .with_world(|w| w.channels.get(&parent_id).map(|c| c.guild_id))
            .ok_or(SimError::Unknown("channel"))?;
        self.add_channel(
            guild,
            CHANNEL_PUBLIC_THREAD,
            name,
            Some(parent_id),
            Vec::new(),
        )
    }

    /// Creates a DM channel between a user and an application's bot.
    pub fn create_dm(&self, user_id: u64, application_id: u64) -> Result<u64, SimError> {
        let bot = self
            .with_world(|w| w.apps.get(&application_id).map(|a| a.bot_user_id))
            .ok_or(SimError::Unknown("application"))?;
        self.add_channel(None, CHANNEL_DM, "", None, vec![user_id, bot])
    }

    fn add_channel(
        &self,
        guild_id: Option<u64>,
        kind: u8,
        name: &str,
        parent_id: Option<u64>,
        recipients: Vec<u64>,
    ) -> Result<u64, SimError> {
        self.with_world(|world| {
            if let Some(guild) = guild_id
                && !world.guilds.contains_key(&guild)
            {
                return Err(SimError::Unknown("guild"));
            }
            let id = world.next_id();
            let position = world
                .channels
                .values()
                .filter(|c| c.guild_id == guild_id)
                .count() as i32;
            world.channels.insert(
                id,
                Channel {
                    id,
                    guild_id,
                    kind,
                    name: name.to_owned(),
                    parent_id,
                    position,
                    overwrites: Vec::new(),
                    recipients,
                },
            );
            gateway::dispatch_channel_create(world, id);
            Ok(id)
        })
    }

    /// Sets (or replaces) a permission overwrite on a channel.
    pub fn set_overwrite(&self, channel_id: u64, overwrite: Overwrite) -> Result<(), SimError> {
        self.with_world(|world| {
            let channel = world
                .channels
                .get_mut(&channel_id)
                .ok_or(SimError::Unknown("channel"))?;
            channel.overwrites.retain(|o| o.id != overwrite.id);
            channel.overwrites.push(overwrite);
            Ok(())
        })
    }

    /// Creates a role with the given permission bits.
    pub fn create_role(
        &self,
        guild_id: u64,
        name: &str,
        permissions: u64,
    ) -> Result<u64, SimError> {
        self.with_world(|world| {
            let id = world.next_id();
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            let position = guild.roles.len() as i64;
            guild.roles.push(Role {
                id,
                name: name.to_owned(),
                permissions,
                position,
                bot_id: None,
            });
            Ok(id)
        })
    }

    /// Sets the `@everyone` permissions of a guild.
    pub fn set_everyone_permissions(
        &self,
        guild_id: u64,
        permissions: u64,
    ) -> Result<(), SimError> {
        self.with_world(|world| {
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            if let Some(everyone) = guild.roles.iter_mut().find(|r| r.id == guild_id) {
                everyone.permissions = permissions;
            }
            Ok(())
        })
    }

    /// Adds a user to a guild with the given roles.
    pub fn add_member(&self, guild_id: u64, user_id: u64, roles: &[u64]) -> Result<(), SimError> {
        self.with_world(|world| {
            if !world.users.contains_key(&user_id) {
                return Err(SimError::Unknown("user"));
            }
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            guild
                .members
                .insert(user_id, new_member(user_id, roles.to_vec()));
            Ok(())
        })
    }

    /// Creates a user and adds them to a guild with the given roles.
    pub fn create_member(
        &self,
        guild_id: u64,
        username: &str,
        roles: &[u64],
    ) -> Result<u64, SimError> {
        let user = self.create_user(username);
        self.add_member(guild_id, user, roles)?;
        Ok(user)
    }

    /// Adds an application's bot to a guild with a managed role holding `permissions`, as the
    /// OAuth2 bot flow does; connected sessions get GUILD_CREATE.
    pub fn add_bot(
        &self,
        guild_id: u64,
        application_id: u64,
        permissions: u64,
    ) -> Result<u64, SimError> {
        self.with_world(|world| {
            let app = world
                .apps
                .get(&application_id)
                .cloned()
                .ok_or(SimError::Unknown("application"))?;
            let role_id = world.next_id();
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            let position = guild.roles.len() as i64;
            guild.roles.push(Role {
                id: role_id,
                name: app.name.clone(),
                permissions,
                position,
                bot_id: Some(app.bot_user_id),
            });
            guild
                .members
                .insert(app.bot_user_id, new_member(app.bot_user_id, vec![role_id]));
            guild.apps.insert(app.id);
            gateway::dispatch_guild_create(world, guild_id, app.id);
            Ok(role_id)
        })
    }

    /// Sets a member's guild nickname (None clears it).
    pub fn set_nick(
        &self,
        guild_id: u64,
        user_id: u64,
        nick: Option<&str>,
    ) -> Result<(), SimError> {
        self.with_world(|world| {
            let member = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?
                .members
                .get_mut(&user_id)
                .ok_or(SimError::Unknown("member"))?;
            member.nick = nick.map(str::to_owned);
            Ok(())
        })
    }

    /// Gives a user an avatar (a generated image hash) and returns the hash; the avatar URL
    /// is then `https://cdn.discordapp.com/avatars/{user}/{hash}.png`, as clients build it.
    pub fn set_avatar(&self, user_id: u64) -> Result<String, SimError> {
        self.with_world(|world| {
            let user = world
                .users
                .get_mut(&user_id)
                .ok_or(SimError::Unknown("user"))?;
            let hash = messages::image_hash(&format!("avatar-{user_id}"));
            user.avatar = Some(hash.clone());
            Ok(hash)
        })
    }

    // ----- acting as a member -----

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

    /// Invokes a registered slash command as a member: builds INTERACTION_CREATE as Discord
    /// does (with `member`, `app_permissions`, resolved data) and dispatches it to the app.
    pub fn invoke_command(
        &self,
        invocation: &CommandInvocation,
    ) -> Result<InteractionRef, SimError> {
        self.create_command_interaction(invocation, 2, None)
    }

    /// Sends an autocomplete interaction with `focused` as the focused option; read the choices
    /// with [`SimHandle::wait_for_response`] (`data.choices`).
    pub fn autocomplete(
        &self,
        invocation: &CommandInvocation,
        focused: &str,
    ) -> Result<InteractionRef, SimError> {
        self.create_command_interaction(invocation, 4, Some(focused))
    }

    fn create_command_interaction(
        &self,
        invocation: &CommandInvocation,
        kind: u8,
        focused: Option<&str>,
    ) -> Result<InteractionRef, SimError> {
        self.with_world(|world| {
            let guild_id = member_in_channel(world, invocation.channel_id, invocation.user_id)?;
            require_member_permissions(
                world,
                invocation.channel_id,
                invocation.user_id,
                permissions::VIEW_CHANNEL | permissions::USE_APPLICATION_COMMANDS,
            )?;
            let command = world
                .commands
                .iter()
                .filter(|c| c.application_id == invocation.application_id)
                .filter(|c| c.guild_id.is_none() || c.guild_id == guild_id)
                .filter(|c| {
                    c.body["type"].as_u64() == Some(1) && c.body["name"] == invocation.name.as_str()
                })
                .min_by_key(|c| c.guild_id.is_none())
                .cloned()
                .ok_or(SimError::Unknown("command"))?;
            // Discord's client neither shows nor sends a command the member may not use.
            let required = command.body["default_member_permissions"]
                .as_str()
                .and_then(|p| p.parse::<u64>().ok());
            if let Some(required) = required
                && !invocation.permission_override
                && guild_id.is_some()
            {
                let held = world.channel_permissions(invocation.channel_id, invocation.user_id);
                if held & required != required {
                    return Err(SimError::Invalid(format!(
                        "the member lacks the command's default_member_permissions ({required})"
                    )));
                }
            }
            let contexts = command.body["contexts"].as_array();
            let in_dm = guild_id.is_none();
            let allowed_in_dm = command.body["dm_permission"].as_bool() != Some(false)
                && contexts.is_none_or(|c| c.iter().any(|v| v.as_u64() == Some(1)));
            let allowed_in_guild = contexts.is_none_or(|c| c.iter().any(|v| v.as_u64() == Some(0)));
            if (in_dm && !allowed_in_dm) || (!in_dm && !allowed_in_guild) {
                return Err(SimError::Invalid(
                    "the command is not available in this context".into(),
                ));
            }
            let mut resolved = json!({});
            let options = options_json(
                world,
                invocation.channel_id,
                &invocation.options,
                &mut resolved,
                focused,
            );
            let mut data = json!({
                "id": command.id.to_string(),
                "name": invocation.name,
                "type": 1,
                "options": options,
            });
            if let Some(guild) = command.guild_id {
                data["guild_id"] = json!(guild.to_string());
            }
            if resolved.as_object().is_some_and(|o| !o.is_empty()) {
                data["resolved"] = resolved;
            }
            Ok(create_interaction(
                world,
                invocation.application_id,
                kind,
                invocation.channel_id,
                invocation.user_id,
                data,
                None,
            ))
        })
    }

    /// Presses a button (or any component with a `custom_id`) on a message as a member.
    pub fn press_button(
        &self,
        message_id: u64,
        user_id: u64,
        custom_id: &str,
    ) -> Result<InteractionRef, SimError> {
        self.with_world(|world| {
            let message = world
                .messages
                .get(&message_id)
                .filter(|m| !m.deleted)
                .cloned()
                .ok_or(SimError::Unknown("message"))?;
            let app_id = message
                .application_id
                .or_else(|| world.app_by_bot_user(message.author_id).map(|a| a.id))
                .or_else(|| {
                    message
                        .webhook_id
                        .and_then(|w| world.webhooks.get(&w))
                        .and_then(|w| w.application_id)
                })
                .ok_or(SimError::Invalid(
                    "the message has no application components".into(),
                ))?;
            let component_type =
                find_component(&message.components, custom_id).ok_or_else(|| {
                    SimError::Invalid(format!("no component with custom_id {custom_id}"))
                })?;
            member_in_channel(world, message.channel_id, user_id)?;
            require_member_permissions(
                world,
                message.channel_id,
                user_id,
                permissions::VIEW_CHANNEL,
            )?;
            let data =
                json!({ "custom_id": custom_id, "component_type": component_type, "values": [] });
            Ok(create_interaction(
                world,
                app_id,
                3,
                message.channel_id,
                user_id,
                data,
                Some(&message),
            ))
        })
    }

    /// Waits for the initial response to an interaction.
    pub async fn wait_for_response(
        &self,
        interaction: &InteractionRef,
        timeout: Duration,
    ) -> Result<InteractionResponse, SimError> {
        let id = interaction.id;
        self.wait(timeout, "an interaction response", |world| {
            world.interactions.get(&id).and_then(|i| i.response.clone())
        })
        .await
    }

    /// Waits for the interaction's settled reply: the original response message once it is no
    /// longer "thinking" (a deferred response was edited or filled by a follow-up), or, after
    /// a deferred update or an update, the message the component was on once edited.
    pub async fn wait_for_reply(
        &self,
        interaction: &InteractionRef,
        timeout: Duration,
    ) -> Result<Message, SimError> {
        let id = interaction.id;
        self.wait(timeout, "an interaction reply", |world| {
            let interaction = world.interactions.get(&id)?;
            let kind = interaction.response.as_ref()?.kind;
            let message_id = match kind {
                4 | 5 => interaction.original_message_id?,
                6 | 7 => interaction.component_message_id?,
                _ => return None,
            };
            let message = world.messages.get(&message_id)?;
            let settled = match kind {
                5 => message.flags & crate::world::FLAG_LOADING == 0,
                6 => message.edited_timestamp.is_some(),
                _ => true,
            };
            settled.then(|| message.clone())
        })
        .await
    }

    /// Every message an interaction produced: the original response, then follow-ups.
    pub fn interaction_messages(&self, id: u64) -> Vec<Message> {
        let world = self.shared.lock();
        let Some(interaction) = world.interactions.get(&id) else {
            return Vec::new();
        };
        interaction
            .original_message_id
            .into_iter()
            .chain(interaction.followups.iter().copied())
            .filter_map(|m| world.messages.get(&m).cloned())
            .collect()
    }

    /// The interaction as stored, with its response, original message and follow-ups.
    pub fn interaction(&self, id: u64) -> Option<Interaction> {
        self.shared.lock().interactions.get(&id).cloned()
    }

    /// The original response message of an interaction, if there is one.
    pub fn original_response(&self, id: u64) -> Option<Message> {
        let world = self.shared.lock();
        let original = world.interactions.get(&id)?.original_message_id?;
        world.messages.get(&original).cloned()
    }

    // ----- faults and limits -----

    /// Adds a scripted fault.
    pub fn inject_fault(&self, fault: Fault) {
        self.with_world(|world| {
            world.faults.push(FaultRule {
                method: fault.method,
                path: fault.path,
                action: fault.action,
                remaining: fault.times,
            })
        });
    }

    /// Removes every scripted fault.
    pub fn clear_faults(&self) {
        self.with_world(|world| world.faults.clear());
    }

    /// Replaces the rate limits and resets every bucket.
    pub fn set_rate_limits(&self, limits: RateLimitConfig) {
        self.with_world(|world| {
            world.limits = limits;
            world.ratelimiter.clear();
        });
    }

    /// Changes the interaction response deadline (Discord: 3 s).
    pub fn set_interaction_deadline(&self, deadline: Duration) {
        self.with_world(|world| world.interaction_deadline = deadline);
    }

    /// Deletes a webhook behind the bot's back; later calls through it get 10015.
    pub fn delete_webhook(&self, webhook_id: u64) -> bool {
        self.with_world(|world| match world.webhooks.remove(&webhook_id) {
            Some(webhook) => {
                gateway::dispatch_webhooks_update(world, webhook.guild_id, webhook.channel_id);
                true
            }
            None => false,
        })
    }

    /// Deletes a channel with its threads and webhooks, as Discord does; apps get
    /// CHANNEL_DELETE and later calls through those webhooks get 10015.
    pub fn delete_channel(&self, channel_id: u64) -> Result<(), SimError> {
        self.with_world(|world| {
            let channel = world
                .channels
                .remove(&channel_id)
                .ok_or(SimError::Unknown("channel"))?;
            let threads: Vec<u64> = world
                .channels
                .values()
                .filter(|c| c.is_thread() && c.parent_id == Some(channel_id))
                .map(|c| c.id)
                .collect();
            for thread in threads {
                if let Some(thread) = world.channels.remove(&thread) {
                    gateway::dispatch_channel_delete(world, &thread);
                }
            }
            world.webhooks.retain(|_, w| w.channel_id != channel_id);
            gateway::dispatch_channel_delete(world, &channel);
            Ok(())
        })
    }

    /// Removes an application's bot (and its managed role) from a guild; its sessions get
    /// GUILD_DELETE and its REST calls on the guild answer 50001 from then on.
    pub fn remove_bot(&self, guild_id: u64, application_id: u64) -> Result<(), SimError> {
        self.with_world(|world| {
            let app = world
                .apps
                .get(&application_id)
                .cloned()
                .ok_or(SimError::Unknown("application"))?;
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            guild.members.remove(&app.bot_user_id);
            guild.roles.retain(|r| r.bot_id != Some(app.bot_user_id));
            guild.apps.remove(&app.id);
            gateway::dispatch_guild_delete(world, guild_id, app.id);
            Ok(())
        })
    }

    // ----- gateway -----

    /// Sends op 7 RECONNECT to the app's connected sessions; returns how many.
    pub fn reconnect(&self, application_id: u64) -> usize {
        self.with_world(|world| gateway::send_reconnect(world, application_id))
    }

    /// Sends op 9 INVALID_SESSION to the app's connected sessions; returns how many.
    pub fn invalidate_sessions(&self, application_id: u64, resumable: bool) -> usize {
        self.with_world(|world| gateway::send_invalid_session(world, application_id, resumable))
    }

    /// Forgets the app's sessions that have no live connection, as Discord does when a closed
    /// session is not resumed in time; returns how many. A later RESUME of one of them gets
    /// INVALID_SESSION (op 9, `false`).
    pub fn expire_sessions(&self, application_id: u64) -> usize {
        self.with_world(|world| gateway::expire_sessions(world, application_id))
    }

    /// Every IDENTIFY and RESUME the app's connections sent, oldest first.
    pub fn handshakes(&self, application_id: u64) -> Vec<Handshake> {
        let world = self.shared.lock();
        world
            .handshakes
            .get(&application_id)
            .cloned()
            .unwrap_or_default()
    }

    /// How many gateway connections of the app are live and identified (or resumed).
    pub fn connected_sessions(&self, application_id: u64) -> usize {
        let world = self.shared.lock();
        world
            .sessions
            .values()
            .filter(|s| s.app_id == application_id && s.tx.is_some())
            .count()
    }

    /// Waits until the app has at least `count` live sessions.
    pub async fn wait_for_sessions(
        &self,
        application_id: u64,
        count: usize,
        timeout: Duration,
    ) -> Result<(), SimError> {
        self.wait(timeout, "gateway sessions", |world| {
            (world
                .sessions
                .values()
                .filter(|s| s.app_id == application_id && s.tx.is_some())
                .count()
                >= count)
                .then_some(())
        })
        .await
    }

    /// Waits until the app has no session left, live or kept for resuming.
    pub async fn wait_for_sessions_closed(
        &self,
        application_id: u64,
        timeout: Duration,
    ) -> Result<(), SimError> {
        self.wait(timeout, "sessions to close", |world| {
            (!world.sessions.values().any(|s| s.app_id == application_id)).then_some(())
        })
        .await
    }

    // ----- reading back -----

    /// Every REST call received so far, oldest first.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        self.with_world(|world| world.calls.clear());
    }

    /// Waits for a recorded call that satisfies `predicate`.
    pub async fn wait_for_call(
        &self,
        timeout: Duration,
        predicate: impl Fn(&RecordedCall) -> bool,
    ) -> Result<RecordedCall, SimError> {
        self.wait(timeout, "a REST call", |world| {
            world.calls.iter().find(|c| predicate(c)).cloned()
        })
        .await
    }

    /// Counters for one client.
    pub fn client_stats(&self, client: ClientId) -> ClientStats {
        self.shared
            .lock()
            .stats
            .get(&client)
            .copied()
            .unwrap_or_default()
    }

    /// Counters for every client seen so far.
    pub fn all_client_stats(&self) -> Vec<(ClientId, ClientStats)> {
        let world = self.shared.lock();
        world.stats.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Every message in a channel, oldest first, deleted and ephemeral ones included.
    pub fn messages(&self, channel_id: u64) -> Vec<Message> {
        let world = self.shared.lock();
        world
            .messages
            .values()
            .filter(|m| m.channel_id == channel_id)
            .cloned()
            .collect()
    }

    /// One message by id.
    pub fn message(&self, message_id: u64) -> Option<Message> {
        self.shared.lock().messages.get(&message_id).cloned()
    }

    /// The message JSON exactly as the REST API would return it.
    pub fn message_json(&self, message_id: u64) -> Option<Value> {
        let world = self.shared.lock();
        world
            .messages
            .get(&message_id)
            .map(|m| world.message_json(m))
    }

    /// Waits for a message in a channel that satisfies `predicate`.
    pub async fn wait_for_message(
        &self,
        channel_id: u64,
        timeout: Duration,
        predicate: impl Fn(&Message) -> bool,
    ) -> Result<Message, SimError> {
        self.wait(timeout, "a message", |world| {
            world
                .messages
                .values()
                .find(|m| m.channel_id == channel_id && predicate(m))
                .cloned()
        })
        .await
    }

    /// The webhooks of a channel.
    pub fn webhooks(&self, channel_id: u64) -> Vec<Webhook> {
        let world = self.shared.lock();
        world
            .webhooks
            .values()
            .filter(|w| w.channel_id == channel_id)
            .cloned()
            .collect()
    }

    /// The commands registered by an app, globally (None) or in a guild.
    pub fn commands(&self, application_id: u64, guild_id: Option<u64>) -> Vec<Command> {
        let world = self.shared.lock();
        world
            .commands
            .iter()
            .filter(|c| c.application_id == application_id && c.guild_id == guild_id)
            .cloned()
            .collect()
    }

    /// A guild as stored.
    pub fn guild(&self, guild_id: u64) -> Option<Guild> {
        self.shared.lock().guilds.get(&guild_id).cloned()
    }
}

/// A token shaped like Discord's: the bot user id in base64, a timestamp part and a secret.
/// Some libraries read the user id back out of the first part.
fn bot_token(bot_user_id: u64, secret: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = bot_user_id.to_string().into_bytes();
    let mut encoded = String::new();
    for chunk in input.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..=chunk.len() {
            encoded.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    format!("{encoded}.{}.{secret}", &secret[..6])
}

fn new_member(user_id: u64, roles: Vec<u64>) -> Member {
    Member {
        user_id,
        roles,
        nick: None,
        joined_at: now_rfc3339(),
    }
}

/// Checks the user holds `needed` in the channel, as Discord's client would before letting
/// them act there.
fn require_member_permissions(
    world: &World,
    channel_id: u64,
    user_id: u64,
    needed: u64,
) -> Result<(), SimError> {
    let held = world.channel_permissions(channel_id, user_id);
    if held & needed != needed {
        return Err(SimError::Invalid(format!(
            "the member lacks permissions {:#x} in the channel",
            needed & !held
        )));
    }
    Ok(())
}

/// Checks the user can act in the channel; returns its guild.
fn member_in_channel(
    world: &World,
    channel_id: u64,
    user_id: u64,
) -> Result<Option<u64>, SimError> {
    let channel = world
        .channels
        .get(&channel_id)
        .ok_or(SimError::Unknown("channel"))?;
    match channel.guild_id {
        Some(guild) => {
            let guild = world.guilds.get(&guild).ok_or(SimError::Unknown("guild"))?;
            if !guild.members.contains_key(&user_id) {
                return Err(SimError::Invalid(
                    "the user is not a member of the channel's guild".into(),
                ));
            }
            Ok(Some(guild.id))
        }
        None if channel.recipients.contains(&user_id) => Ok(None),
        None => Err(SimError::Invalid("the user is not in this DM".into())),
    }
}

fn find_component(components: &[Value], custom_id: &str) -> Option<u64> {
    for component in components {
        if component["custom_id"].as_str() == Some(custom_id) {
            return component["type"].as_u64();
        }
        if let Some(children) = component["components"].as_array()
            && let Some(found) = find_component(children, custom_id)
        {
            return Some(found);
        }
    }
    None
}

fn options_json(
    world: &mut World,
    channel_id: u64,
    options: &[(String, CommandOptionValue)],
    resolved: &mut Value,
    focused: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for (name, value) in options {
        let mut option = json!({ "name": name, "type": option_type(value) });
        match value {
            CommandOptionValue::String(s) => option["value"] = json!(s),
            CommandOptionValue::Integer(i) => option["value"] = json!(i),
            CommandOptionValue::Boolean(b) => option["value"] = json!(b),
            CommandOptionValue::Number(n) => option["value"] = json!(n),
            CommandOptionValue::User(user) => {
                option["value"] = json!(user.to_string());
                resolved["users"][user.to_string()] = world.user_json(*user);
                let guild = world.channels.get(&channel_id).and_then(|c| c.guild_id);
                if let Some(member) = guild
                    .and_then(|g| world.guilds.get(&g))
                    .and_then(|g| g.members.get(user))
                {
                    let mut member_json = world.member_json(member, false);
                    member_json["permissions"] =
                        json!(world.channel_permissions(channel_id, *user).to_string());
                    resolved["members"][user.to_string()] = member_json;
                }
            }
            CommandOptionValue::Channel(channel) => {
                option["value"] = json!(channel.to_string());
                if let Some(c) = world.channels.get(channel) {
                    let mut entry = json!({
                        "id": c.id.to_string(), "type": c.kind, "name": c.name,
                        "permissions": world.channel_permissions(c.id, 0).to_string(),
                    });
                    if let Some(parent) = c.parent_id {
                        entry["parent_id"] = json!(parent.to_string());
                    }
                    let full = world.channel_json(c);
                    if let Some(meta) = full.get("thread_metadata") {
                        entry["thread_metadata"] = meta.clone();
                    }
                    resolved["channels"][channel.to_string()] = entry;
                }
            }
            CommandOptionValue::Role(role) => {
                option["value"] = json!(role.to_string());
                let found = world
                    .guilds
                    .values()
                    .flat_map(|g| &g.roles)
                    .find(|r| r.id == *role)
                    .cloned();
                if let Some(r) = found {
                    resolved["roles"][role.to_string()] = World::role_json(&r);
                }
            }
            CommandOptionValue::Attachment(upload) => {
                let attachment = store_file(
                    world,
                    channel_id,
                    &upload.filename,
                    upload.content_type.clone(),
                    upload.data.clone(),
                    None,
                );
                option["value"] = json!(attachment.id.to_string());
                resolved["attachments"][attachment.id.to_string()] = attachment.json();
            }
            CommandOptionValue::SubCommand(nested)
            | CommandOptionValue::SubCommandGroup(nested) => {
                option["options"] =
                    json!(options_json(world, channel_id, nested, resolved, focused));
            }
        }
        if focused == Some(name.as_str()) && option.get("value").is_some() {
            option["focused"] = json!(true);
        }
        out.push(option);
    }
    out
}

/// Builds, stores and dispatches an interaction.
fn create_interaction(
    world: &mut World,
    application_id: u64,
    kind: u8,
    channel_id: u64,
    user_id: u64,
    data: Value,
    message: Option<&Message>,
) -> InteractionRef {
    let id = world.next_id();
    let token = world.new_token("aW50ZXJhY3Rpb246");
    let channel = world.channels.get(&channel_id).cloned();
    let guild_id = channel.as_ref().and_then(|c| c.guild_id);
    let bot = world
        .apps
        .get(&application_id)
        .map(|a| a.bot_user_id)
        .unwrap_or_default();
    let mut payload = json!({
        "id": id.to_string(),
        "application_id": application_id.to_string(),
        "type": kind,
        "data": data,
        "channel_id": channel_id.to_string(),
        "token": token,
        "version": 1,
        "app_permissions": world.channel_permissions(channel_id, bot).to_string(),
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": world.upload_limit,
        "context": if guild_id.is_some() { 0 } else { 1 },
    });
    if let Some(channel) = &channel {
        payload["channel"] = world.channel_json(channel);
    }
    match guild_id.and_then(|g| world.guilds.get(&g)) {
        Some(guild) => {
            payload["guild_id"] = json!(guild.id.to_string());
            payload["guild_locale"] = json!("en-US");
            payload["guild"] =
                json!({ "id": guild.id.to_string(), "locale": "en-US", "features": [] });
            payload["authorizing_integration_owners"] = json!({ "0": guild.id.to_string() });
            if let Some(member) = guild.members.get(&user_id) {
                let mut member_json = world.member_json(member, true);
                member_json["permissions"] =
                    json!(world.channel_permissions(channel_id, user_id).to_string());
                payload["member"] = member_json;
            }
        }
        None => {
            payload["user"] = world.user_json(user_id);
            payload["authorizing_integration_owners"] = json!({ "0": "0" });
        }
    }
    if let Some(message) = message {
        payload["message"] = world.message_json(message);
    }
    world.interactions.insert(
        id,
        Interaction {
            id,
            application_id,
            token: token.clone(),
            kind,
            guild_id,
            channel_id,
            user_id,
            payload,
            response: None,
            original_message_id: None,
            followups: Vec::new(),
            component_message_id: message.map(|m| m.id),
            created: Instant::now(),
        },
    );
    gateway::dispatch_interaction(world, id);
    InteractionRef { id, token }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_read_the_json_the_readme_shows() {
        let invocation: CommandInvocation = serde_json::from_value(json!({
            "application_id": 1, "channel_id": 2, "user_id": 3, "name": "here",
            "options": [["message", { "type": "string", "value": "hi" }]],
        }))
        .unwrap();
        assert_eq!(
            invocation,
            CommandInvocation::new(1, 2, 3, "here")
                .option("message", CommandOptionValue::String("hi".into()))
        );
    }

    #[test]
    fn bot_tokens_start_with_the_base64_user_id() {
        // "123" in base64 is "MTIz", "1234" is "MTIzNA" without padding, as Discord writes it.
        assert!(bot_token(123, "abcdefghij").starts_with("MTIz.abcdef."));
        assert!(bot_token(1234, "abcdefghij").starts_with("MTIzNA."));
    }
}
