//! A member invoking slash commands, autocompleting and pressing buttons, each building
//! INTERACTION_CREATE as Discord does, and reading back how the bot answered.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::SimError;
use crate::gateway;
use crate::permissions;
use crate::world::{Interaction, InteractionResponse, Message, World, store_file};

use super::posting::Upload;
use super::{SimHandle, member_in_channel, require_member_permissions};

/// An interaction the simulator created, for reading its responses back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionRef {
    /// The interaction id.
    pub id: u64,
    /// The interaction token.
    pub token: String,
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
        "locale": world.user_locale(user_id),
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
            let guild_locale = world.guild_locale(guild.id);
            payload["guild_locale"] = json!(guild_locale);
            payload["guild"] =
                json!({ "id": guild.id.to_string(), "locale": guild_locale, "features": [] });
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
}
