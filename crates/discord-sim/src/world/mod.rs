//! The simulated Discord: applications, users, guilds, channels, messages, webhooks and
//! interactions, plus the JSON shapes Discord (and twilight-model 0.18) use for them.
//!
//! Everything lives in one [`World`] behind a mutex. Handlers hold the lock only for short,
//! non-async sections, so a single lock keeps the model consistent without deadlock risk.
//!
//! The world is the bottom layer of the crate: the REST API, the gateway, message handling and
//! the control API all build on it, and it imports none of them, so the data they hand each
//! other (a [`MessageInput`], a [`FaultAction`]) is defined here.

mod access;
mod input;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::config::SimConfig;
use crate::error::ApiError;
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::snowflake::{SnowflakeGen, timestamp_ms};

pub(crate) use input::{MessageInput, Upload, store_file};

/// Channel type of a guild text channel.
pub const CHANNEL_GUILD_TEXT: u8 = 0;
/// Channel type of a direct message.
pub const CHANNEL_DM: u8 = 1;
/// Channel type of a public thread (also a forum post, whose parent is a forum channel).
pub const CHANNEL_PUBLIC_THREAD: u8 = 11;
/// Channel type of a private thread.
pub const CHANNEL_PRIVATE_THREAD: u8 = 12;
/// Channel type of a forum channel: it holds posts (threads) and no messages of its own.
pub const CHANNEL_GUILD_FORUM: u8 = 15;

/// Message flag: only the invoking user sees the message.
pub(crate) const FLAG_EPHEMERAL: u64 = 1 << 6;
/// Message flag: the message is a deferred interaction response still "thinking".
pub(crate) const FLAG_LOADING: u64 = 1 << 7;

/// A bot application with its bot user.
#[derive(Debug, Clone, Serialize)]
pub struct App {
    /// The application id (also the id interaction webhooks use).
    pub id: u64,
    /// The application (and bot user) name.
    pub name: String,
    /// The bot user's id, distinct from the application id as on Discord.
    pub bot_user_id: u64,
    /// The human user who owns the application.
    pub owner_id: u64,
    /// The bot token, without the `Bot ` prefix.
    pub token: String,
    /// Whether the privileged message-content intent is enabled for the app; identifying with
    /// it when it is not closes the gateway with 4014, as Discord does.
    pub message_content: bool,
}

/// A user, human or bot.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// The user id.
    pub id: u64,
    /// The unique user name.
    pub username: String,
    /// The display name, if set.
    pub global_name: Option<String>,
    /// The avatar hash, if any.
    pub avatar: Option<String>,
    /// Whether this is a bot user.
    pub bot: bool,
}

/// A role in a guild; the role whose id equals the guild id is `@everyone`.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// The role id.
    pub id: u64,
    /// The role name.
    pub name: String,
    /// The permission bits the role grants.
    pub permissions: u64,
    /// The position in the role list.
    pub position: i64,
    /// The bot whose managed role this is, if any (Discord makes one per bot it adds).
    pub bot_id: Option<u64>,
}

/// A guild member.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// The user.
    pub user_id: u64,
    /// The roles, without `@everyone`.
    pub roles: Vec<u64>,
    /// The guild nickname, if set.
    pub nick: Option<String>,
    /// When the member joined, RFC 3339.
    pub joined_at: String,
}

/// A guild.
#[derive(Debug, Clone, Serialize)]
pub struct Guild {
    /// The guild id (also the id of `@everyone`).
    pub id: u64,
    /// The guild name.
    pub name: String,
    /// The owner, who has every permission.
    pub owner_id: u64,
    /// Roles, `@everyone` first.
    pub roles: Vec<Role>,
    /// Members by user id, bots included.
    pub members: BTreeMap<u64, Member>,
    /// Applications whose bot is in the guild.
    pub apps: BTreeSet<u64>,
}

/// One permission overwrite on a channel.
#[derive(Debug, Clone, Serialize)]
pub struct Overwrite {
    /// The role or member id.
    pub id: u64,
    /// 0 for a role, 1 for a member.
    pub kind: u8,
    /// Bits allowed.
    pub allow: u64,
    /// Bits denied.
    pub deny: u64,
}

/// A channel: guild text channel, thread, or DM.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    /// The channel id.
    pub id: u64,
    /// The guild, absent for DMs.
    pub guild_id: Option<u64>,
    /// The Discord channel type.
    pub kind: u8,
    /// The channel name.
    pub name: String,
    /// The parent channel of a thread (or the category of a channel).
    pub parent_id: Option<u64>,
    /// The position in the channel list.
    pub position: i32,
    /// Permission overwrites.
    pub overwrites: Vec<Overwrite>,
    /// DM recipients.
    pub recipients: Vec<u64>,
    /// For a thread: archived. A post (a member's, a bot's or a webhook's) reopens it, unless
    /// it is also locked.
    pub archived: bool,
    /// For a thread: locked. While archived, nothing can be posted in it (50083).
    pub locked: bool,
}

impl Channel {
    /// Whether this channel is a thread (types 10, 11 and 12).
    pub fn is_thread(&self) -> bool {
        matches!(self.kind, 10..=12)
    }
}

/// A stored file, served under the simulator's CDN-like `/attachments/...` path.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    /// The attachment id.
    pub id: u64,
    /// The file name.
    pub filename: String,
    /// The size in bytes.
    pub size: u64,
    /// The content type, if known.
    pub content_type: Option<String>,
    /// The description (alt text), if given.
    pub description: Option<String>,
    /// The download URL on the simulator.
    pub url: String,
    /// The same URL; Discord's proxy URL points at its media proxy.
    pub proxy_url: String,
}

impl Attachment {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "filename": self.filename,
            "size": self.size,
            "content_type": self.content_type,
            "description": self.description,
            "url": self.url,
            "proxy_url": self.proxy_url,
        })
    }
}

/// A message as stored, with what was sent (`allowed_mentions`) for tests to assert on.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// The message id.
    pub id: u64,
    /// The channel.
    pub channel_id: u64,
    /// The guild, absent in DMs.
    pub guild_id: Option<u64>,
    /// The author's user id, or the webhook id for webhook messages.
    pub author_id: u64,
    /// The user name shown for a webhook message (the override or the webhook's name).
    pub author_name: String,
    /// The avatar hash shown for a webhook message (of the override URL or the webhook's).
    pub author_avatar: Option<String>,
    /// The `avatar_url` override a webhook execution sent, as sent.
    pub avatar_url: Option<String>,
    /// Whether the author is a bot (always true for webhook messages).
    pub author_bot: bool,
    /// The webhook that sent the message; for interaction responses, the application id.
    pub webhook_id: Option<u64>,
    /// The application of an interaction response, or of the app-owned webhook that sent it.
    pub application_id: Option<u64>,
    /// The text.
    pub content: String,
    /// Embeds as sent.
    pub embeds: Vec<Value>,
    /// Components as sent.
    pub components: Vec<Value>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// The `allowed_mentions` object exactly as the client sent it (None if absent).
    pub allowed_mentions: Option<Value>,
    /// Users mentioned (after `allowed_mentions`).
    pub mentions: Vec<u64>,
    /// Roles mentioned (after `allowed_mentions`).
    pub mention_roles: Vec<u64>,
    /// Whether `@everyone` or `@here` pinged.
    pub mention_everyone: bool,
    /// Message flags.
    pub flags: u64,
    /// The Discord message type (0 default, 19 reply, 20 chat-input command response).
    pub kind: u8,
    /// Creation time, RFC 3339.
    pub timestamp: String,
    /// Last edit time, RFC 3339.
    pub edited_timestamp: Option<String>,
    /// Text-to-speech flag.
    pub tts: bool,
    /// Interaction metadata of an interaction response.
    pub interaction_metadata: Option<Value>,
    /// The message this one replies to.
    pub message_reference: Option<Value>,
    /// Whether the message has been deleted; deleted messages stay here for tests.
    pub deleted: bool,
    /// The user who sees an ephemeral message.
    pub ephemeral_for: Option<u64>,
}

/// A channel webhook.
#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    /// The webhook id.
    pub id: u64,
    /// The webhook token.
    pub token: String,
    /// The channel it posts into.
    pub channel_id: u64,
    /// The guild of that channel.
    pub guild_id: u64,
    /// The default user name of its messages.
    pub name: String,
    /// The avatar hash, if any.
    pub avatar: Option<String>,
    /// The user who created it.
    pub creator_id: Option<u64>,
    /// The application whose bot created it.
    pub application_id: Option<u64>,
}

/// One accepted interaction response (the initial callback or a later edit).
#[derive(Debug, Clone, Serialize)]
pub struct InteractionResponse {
    /// The callback type (4 message, 5 deferred, 6 deferred update, 7 update, 8 autocomplete,
    /// 9 modal).
    pub kind: u8,
    /// The callback `data`.
    pub data: Value,
}

/// An interaction created through the control API.
#[derive(Debug, Clone, Serialize)]
pub struct Interaction {
    /// The interaction id.
    pub id: u64,
    /// The application the interaction is for.
    pub application_id: u64,
    /// The interaction token.
    pub token: String,
    /// 2 command, 3 component, 4 autocomplete, 5 modal submit.
    pub kind: u8,
    /// The guild.
    pub guild_id: Option<u64>,
    /// The channel.
    pub channel_id: u64,
    /// The invoking user.
    pub user_id: u64,
    /// The INTERACTION_CREATE payload as dispatched.
    pub payload: Value,
    /// The initial response, once given.
    pub response: Option<InteractionResponse>,
    /// The original response message, once there is one.
    pub original_message_id: Option<u64>,
    /// Follow-up messages.
    pub followups: Vec<u64>,
    /// For component interactions, the message whose component was used.
    pub component_message_id: Option<u64>,
    /// When the interaction was created; callbacks after the deadline fail with 10062.
    #[serde(skip)]
    pub created: Instant,
}

/// An application command as registered.
#[derive(Debug, Clone, Serialize)]
pub struct Command {
    /// The command id; kept across bulk overwrites of a command with the same name.
    pub id: u64,
    /// The application.
    pub application_id: u64,
    /// The guild for guild commands.
    pub guild_id: Option<u64>,
    /// The command JSON as Discord returns it.
    pub body: Value,
}

/// Who made a REST call, as far as the simulator can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ClientId {
    /// A request with a valid bot token of this application.
    Bot(u64),
    /// A request without an Authorization header (webhook and interaction routes).
    Anonymous,
    /// A request with an Authorization header that is not a valid bot token.
    InvalidToken,
}

/// Counters per client, as Discord keeps them for its invalid-request limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClientStats {
    /// Every request.
    pub requests: u64,
    /// Responses with status 429.
    pub rate_limited: u64,
    /// Responses with status 401, 403 or 429 (Discord's "invalid requests").
    pub invalid: u64,
}

/// How a gateway connection of an application began: what tests read to tell a resumed
/// session from a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Handshake {
    /// An IDENTIFY that started this new session.
    Identify {
        /// The new session's id.
        session_id: String,
    },
    /// A RESUME of a kept session, answered with the missed dispatches and RESUMED.
    Resume {
        /// The resumed session's id.
        session_id: String,
        /// The sequence the client said it had seen last.
        seq: u64,
    },
    /// A RESUME answered with INVALID_SESSION (an unknown, expired or dropped session).
    ResumeRefused {
        /// The session id the client asked for.
        session_id: String,
    },
}

/// One REST call the simulator received.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedCall {
    /// The HTTP method.
    pub method: String,
    /// The path, e.g. `/api/v10/webhooks/1/abc`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request body, lossily decoded as UTF-8 (multipart bodies included).
    pub body: String,
    /// The response status.
    pub status: u16,
    /// The Discord JSON error code of an error response.
    pub error_code: Option<u32>,
    /// Who made the call.
    pub client: ClientId,
    /// Milliseconds since the simulator started.
    pub at_ms: u64,
}

/// What the gateway writer task sends on a connection.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A JSON text frame.
    Text(String),
    /// A close frame with a code and reason; the connection ends after it.
    Close(u16, String),
    /// The client closed: flush the close reply the WebSocket library queued (it echoes the
    /// client's code), then end the connection.
    AnswerClose,
}

/// A gateway session, kept after a disconnect so it can be resumed.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) app_id: u64,
    pub(crate) intents: u64,
    /// `[shard_id, num_shards]` from IDENTIFY; guild events go to the shard
    /// `(guild_id >> 22) % num_shards` ("Gateway: Sharding").
    pub(crate) shard: Option<[u64; 2]>,
    /// The sequence number of the last dispatch.
    pub(crate) seq: u64,
    /// Recent dispatches for replay on resume, oldest first.
    pub(crate) buffer: VecDeque<(u64, String)>,
    /// The live connection's writer, if connected.
    pub(crate) tx: Option<UnboundedSender<Outbound>>,
    /// Identifies the live connection so a stale one does not detach a newer one.
    pub(crate) connection: u64,
}

/// What a scripted fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultAction {
    /// Answer with this status and Discord error code instead of running the route.
    Error {
        /// HTTP status.
        status: u16,
        /// Discord JSON error code.
        code: u32,
        /// Error message.
        message: String,
    },
    /// Wait this long before running the route.
    Latency(Duration),
    /// Answer 429 with this `retry_after` and `X-RateLimit-Scope` (`user`, `global`, `shared`).
    RateLimit {
        /// How long the client must wait.
        retry_after: Duration,
        /// The scope header value.
        scope: String,
    },
}

/// A scripted fault on matching routes.
#[derive(Debug, Clone)]
pub(crate) struct FaultRule {
    pub(crate) method: Option<String>,
    pub(crate) path: String,
    pub(crate) action: FaultAction,
    pub(crate) remaining: Option<u32>,
}

/// The whole simulated Discord.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) ids: SnowflakeGen,
    pub(crate) started: Instant,
    pub(crate) base_url: String,
    pub(crate) apps: BTreeMap<u64, App>,
    pub(crate) users: BTreeMap<u64, User>,
    pub(crate) guilds: BTreeMap<u64, Guild>,
    pub(crate) channels: BTreeMap<u64, Channel>,
    pub(crate) messages: BTreeMap<u64, Message>,
    pub(crate) webhooks: BTreeMap<u64, Webhook>,
    pub(crate) interactions: BTreeMap<u64, Interaction>,
    pub(crate) commands: Vec<Command>,
    /// Files by CDN path (`/attachments/{channel}/{id}/{name}`): content type and bytes.
    pub(crate) files: HashMap<String, (Option<String>, Vec<u8>)>,
    pub(crate) calls: Vec<RecordedCall>,
    pub(crate) stats: BTreeMap<ClientId, ClientStats>,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) limits: RateLimitConfig,
    pub(crate) ratelimiter: RateLimiter,
    pub(crate) interaction_deadline: Duration,
    pub(crate) interaction_token_lifetime: Duration,
    pub(crate) upload_limit: u64,
    pub(crate) heartbeat_interval_ms: u64,
    pub(crate) connection_serial: u64,
    /// Successful IDENTIFYs per application, for `session_start_limit.remaining`.
    pub(crate) identifies: BTreeMap<u64, u64>,
    /// Every IDENTIFY and RESUME per application, oldest first.
    pub(crate) handshakes: BTreeMap<u64, Vec<Handshake>>,
    /// Users' Discord client language (an interaction's `locale`) where a test set one.
    pub(crate) user_locales: HashMap<u64, String>,
    /// Guilds' `preferred_locale` (and interactions' `guild_locale`) where a test set one.
    pub(crate) guild_locales: HashMap<u64, String>,
    /// The shard count `GET /gateway/bot` recommends, per application (1 unless set).
    pub(crate) recommended_shards: BTreeMap<u64, u32>,
}

/// The locale of users and guilds no test gave another.
pub(crate) const DEFAULT_LOCALE: &str = "en-US";

/// The current time in Discord's timestamp format.
pub(crate) fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, false)
}

fn id_time(id: u64) -> String {
    Utc.timestamp_millis_opt(timestamp_ms(id) as i64)
        .single()
        .unwrap_or_else(Utc::now)
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

impl World {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Self {
            ids: SnowflakeGen::default(),
            started: Instant::now(),
            base_url: String::new(),
            apps: BTreeMap::new(),
            users: BTreeMap::new(),
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            messages: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            interactions: BTreeMap::new(),
            commands: Vec::new(),
            files: HashMap::new(),
            calls: Vec::new(),
            stats: BTreeMap::new(),
            faults: Vec::new(),
            sessions: HashMap::new(),
            limits: config.rate_limits.clone(),
            ratelimiter: RateLimiter::default(),
            interaction_deadline: config.interaction_deadline,
            interaction_token_lifetime: config.interaction_token_lifetime,
            upload_limit: config.upload_limit,
            heartbeat_interval_ms: config.heartbeat_interval.as_millis() as u64,
            connection_serial: 0,
            identifies: BTreeMap::new(),
            handshakes: BTreeMap::new(),
            user_locales: HashMap::new(),
            guild_locales: HashMap::new(),
            recommended_shards: BTreeMap::new(),
        }
    }

    /// A user's client language: `en-US` unless a test set another.
    pub(crate) fn user_locale(&self, user_id: u64) -> &str {
        self.user_locales
            .get(&user_id)
            .map_or(DEFAULT_LOCALE, String::as_str)
    }

    /// A guild's preferred locale: `en-US` unless a test set another.
    pub(crate) fn guild_locale(&self, guild_id: u64) -> &str {
        self.guild_locales
            .get(&guild_id)
            .map_or(DEFAULT_LOCALE, String::as_str)
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.ids.next()
    }

    /// A random-looking token; uuids are unique, which is all the simulator needs.
    pub(crate) fn new_token(&self, prefix: &str) -> String {
        format!("{prefix}{}", uuid::Uuid::new_v4().simple())
    }

    pub(crate) fn app_by_token(&self, token: &str) -> Option<&App> {
        self.apps.values().find(|a| a.token == token)
    }

    pub(crate) fn app_by_bot_user(&self, user_id: u64) -> Option<&App> {
        self.apps.values().find(|a| a.bot_user_id == user_id)
    }

    pub(crate) fn channel(&self, id: u64) -> Result<&Channel, ApiError> {
        self.channels.get(&id).ok_or_else(ApiError::unknown_channel)
    }

    /// The guild, if the user is a member of it: 10004 for an unknown guild and 50001 when the
    /// caller is not in it, as Discord answers.
    pub(crate) fn guild_for_member(&self, guild_id: u64, user_id: u64) -> Result<&Guild, ApiError> {
        let guild = self
            .guilds
            .get(&guild_id)
            .ok_or_else(ApiError::unknown_guild)?;
        if !guild.members.contains_key(&user_id) {
            return Err(ApiError::missing_access());
        }
        Ok(guild)
    }

    pub(crate) fn user_json(&self, user_id: u64) -> Value {
        match self.users.get(&user_id) {
            Some(u) => user_value(u),
            None => json!({
                "id": user_id.to_string(), "username": "unknown", "discriminator": "0",
                "global_name": null, "avatar": null, "public_flags": 0,
            }),
        }
    }

    pub(crate) fn current_user_json(&self, app: &App) -> Value {
        let mut user = self.user_json(app.bot_user_id);
        user["mfa_enabled"] = json!(false);
        user["verified"] = json!(true);
        user["locale"] = json!(self.user_locale(app.bot_user_id));
        user["flags"] = json!(0);
        user["email"] = Value::Null;
        user
    }

    pub(crate) fn role_json(role: &Role) -> Value {
        let mut value = json!({
            "id": role.id.to_string(),
            "name": role.name,
            "color": 0,
            "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
            "hoist": false,
            "icon": null,
            "unicode_emoji": null,
            "position": role.position,
            "permissions": role.permissions.to_string(),
            "managed": role.bot_id.is_some(),
            "mentionable": false,
            "flags": 0,
        });
        if let Some(bot) = role.bot_id {
            value["tags"] = json!({ "bot_id": bot.to_string() });
        }
        value
    }

    pub(crate) fn member_json(&self, member: &Member, with_user: bool) -> Value {
        let mut value = json!({
            "nick": member.nick,
            "avatar": null,
            "banner": null,
            "roles": member.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "joined_at": member.joined_at,
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
        });
        if with_user {
            value["user"] = self.user_json(member.user_id);
        }
        value
    }

    pub(crate) fn channel_json(&self, channel: &Channel) -> Value {
        let last_message_id = self
            .messages
            .values()
            .rev()
            .find(|m| m.channel_id == channel.id && !m.deleted)
            .map(|m| m.id.to_string());
        let mut value = json!({
            "id": channel.id.to_string(),
            "type": channel.kind,
            "name": channel.name,
            "position": channel.position,
            "parent_id": channel.parent_id.map(|p| p.to_string()),
            "permission_overwrites": channel.overwrites.iter().map(|o| json!({
                "id": o.id.to_string(), "type": o.kind,
                "allow": o.allow.to_string(), "deny": o.deny.to_string(),
            })).collect::<Vec<_>>(),
            "topic": null,
            "nsfw": false,
            "last_message_id": last_message_id,
            "rate_limit_per_user": 0,
            "flags": 0,
        });
        if let Some(guild_id) = channel.guild_id {
            value["guild_id"] = json!(guild_id.to_string());
        }
        if channel.kind == CHANNEL_DM {
            value["recipients"] = json!(
                channel
                    .recipients
                    .iter()
                    .map(|u| self.user_json(*u))
                    .collect::<Vec<_>>()
            );
            value.as_object_mut().map(|o| o.remove("name"));
        }
        if channel.is_thread() {
            value["thread_metadata"] = json!({
                "archived": channel.archived, "auto_archive_duration": 1440,
                "archive_timestamp": id_time(channel.id), "locked": channel.locked,
            });
            value["member_count"] = json!(1);
            value["message_count"] = json!(0);
        }
        value
    }

    /// The guild object: REST `GET /guilds/{id}` shape, or with `for_gateway` the
    /// GUILD_CREATE shape that also carries channels, threads, the bot's member and counts.
    pub(crate) fn guild_json(&self, guild: &Guild, for_gateway: Option<&App>) -> Value {
        let mut value = json!({
            "id": guild.id.to_string(),
            "name": guild.name,
            "icon": null, "icon_hash": null, "splash": null, "discovery_splash": null, "banner": null,
            "owner_id": guild.owner_id.to_string(),
            "afk_channel_id": null, "afk_timeout": 300,
            "widget_enabled": false, "widget_channel_id": null,
            "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": guild.roles.iter().map(Self::role_json).collect::<Vec<_>>(),
            "emojis": [], "stickers": [], "features": [],
            "mfa_level": 0, "application_id": null,
            "system_channel_id": null, "system_channel_flags": 0,
            "rules_channel_id": null, "public_updates_channel_id": null,
            "safety_alerts_channel_id": null,
            "max_presences": null, "max_members": 500000, "vanity_url_code": null,
            "description": null, "premium_tier": 0, "premium_subscription_count": 0,
            "preferred_locale": self.guild_locale(guild.id), "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50, "nsfw_level": 0,
            "premium_progress_bar_enabled": false,
        });
        if let Some(app) = for_gateway {
            let channels: Vec<Value> = self
                .channels
                .values()
                .filter(|c| c.guild_id == Some(guild.id) && !c.is_thread())
                .map(|c| self.channel_json(c))
                .collect();
            let threads: Vec<Value> = self
                .channels
                .values()
                .filter(|c| c.guild_id == Some(guild.id) && c.is_thread())
                .map(|c| self.channel_json(c))
                .collect();
            let members: Vec<Value> = guild
                .members
                .get(&app.bot_user_id)
                .map(|m| self.member_json(m, true))
                .into_iter()
                .collect();
            let joined_at = guild
                .members
                .get(&app.bot_user_id)
                .map(|m| m.joined_at.clone());
            let obj = value.as_object_mut().expect("guild json is an object");
            obj.insert("channels".into(), json!(channels));
            obj.insert("threads".into(), json!(threads));
            obj.insert("members".into(), json!(members));
            obj.insert("joined_at".into(), json!(joined_at));
            obj.insert("large".into(), json!(false));
            obj.insert("unavailable".into(), json!(false));
            obj.insert("member_count".into(), json!(guild.members.len()));
            obj.insert("voice_states".into(), json!([]));
            obj.insert("presences".into(), json!([]));
            obj.insert("stage_instances".into(), json!([]));
            obj.insert("guild_scheduled_events".into(), json!([]));
            obj.insert("soundboard_sounds".into(), json!([]));
        }
        value
    }

    pub(crate) fn webhook_json(
        &self,
        webhook: &Webhook,
        with_token: bool,
        with_user: bool,
    ) -> Value {
        let mut value = json!({
            "id": webhook.id.to_string(),
            "type": 1,
            "guild_id": webhook.guild_id.to_string(),
            "channel_id": webhook.channel_id.to_string(),
            "name": webhook.name,
            "avatar": webhook.avatar,
            "application_id": webhook.application_id.map(|a| a.to_string()),
        });
        if with_token {
            value["token"] = json!(webhook.token);
            value["url"] = json!(format!(
                "https://discord.com/api/webhooks/{}/{}",
                webhook.id, webhook.token
            ));
        }
        if with_user && let Some(user) = webhook.creator_id {
            value["user"] = self.user_json(user);
        }
        value
    }

    /// The message object Discord returns and dispatches.
    pub(crate) fn message_json(&self, message: &Message) -> Value {
        let author =
            if let Some(webhook_id) = message.webhook_id.filter(|w| *w == message.author_id) {
                json!({
                    "id": webhook_id.to_string(),
                    "username": message.author_name,
                    "avatar": message.author_avatar,
                    "discriminator": "0000",
                    "global_name": null,
                    "public_flags": 0,
                    "flags": 0,
                    "bot": true,
                })
            } else {
                self.user_json(message.author_id)
            };
        let mentions: Vec<Value> = message
            .mentions
            .iter()
            .map(|u| {
                let mut user = self.user_json(*u);
                if let Some(member) = message
                    .guild_id
                    .and_then(|g| self.guilds.get(&g))
                    .and_then(|g| g.members.get(u))
                {
                    user["member"] = self.member_json(member, false);
                }
                user
            })
            .collect();
        let mut value = json!({
            "id": message.id.to_string(),
            "channel_id": message.channel_id.to_string(),
            "author": author,
            "content": message.content,
            "timestamp": message.timestamp,
            "edited_timestamp": message.edited_timestamp,
            "tts": message.tts,
            "mention_everyone": message.mention_everyone,
            "mentions": mentions,
            "mention_roles": message.mention_roles.iter().map(u64::to_string).collect::<Vec<_>>(),
            "attachments": message.attachments.iter().map(Attachment::json).collect::<Vec<_>>(),
            "embeds": message.embeds,
            "components": message.components,
            "pinned": false,
            "type": message.kind,
            "flags": message.flags,
        });
        let obj = value.as_object_mut().expect("message json is an object");
        if let Some(webhook_id) = message.webhook_id {
            obj.insert("webhook_id".into(), json!(webhook_id.to_string()));
        }
        if let Some(app) = message.application_id {
            obj.insert("application_id".into(), json!(app.to_string()));
        }
        if let Some(meta) = &message.interaction_metadata {
            obj.insert("interaction_metadata".into(), meta.clone());
        }
        if let Some(reference) = &message.message_reference {
            obj.insert("message_reference".into(), reference.clone());
            let referenced = reference["message_id"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .and_then(|id| self.messages.get(&id))
                .filter(|m| !m.deleted);
            obj.insert(
                "referenced_message".into(),
                referenced.map_or(Value::Null, |m| self.message_json_shallow(m)),
            );
        }
        value
    }

    /// A message without its referenced message, to keep reply chains finite.
    fn message_json_shallow(&self, message: &Message) -> Value {
        let mut copy = message.clone();
        copy.message_reference = None;
        self.message_json(&copy)
    }

    /// Message JSON for the gateway: adds `guild_id` and the author's partial `member`.
    pub(crate) fn message_event_json(&self, message: &Message) -> Value {
        let mut value = self.message_json(message);
        if let Some(guild_id) = message.guild_id {
            value["guild_id"] = json!(guild_id.to_string());
            if message.webhook_id.is_none()
                && let Some(member) = self
                    .guilds
                    .get(&guild_id)
                    .and_then(|g| g.members.get(&message.author_id))
            {
                value["member"] = self.member_json(member, false);
            }
        }
        value
    }

    /// Whether an app may read a message's content without the message-content intent: its
    /// own messages (interaction responses included), messages that mention its bot, and DMs
    /// ("Gateway: Message Content Intent"). Messages sent through a webhook the app created are
    /// deliberately not exempt: their author is the webhook, and a lenient simulator here could
    /// hide a missing intent.
    pub(crate) fn content_exempt(&self, app: &App, message: &Message) -> bool {
        message.author_id == app.bot_user_id
            || message.mentions.contains(&app.bot_user_id)
            || message.guild_id.is_none()
    }

    /// Mentions in `content`, filtered by `allowed_mentions` as Discord applies it.
    pub(crate) fn resolve_mentions(
        &self,
        guild_id: Option<u64>,
        content: &str,
        allowed: Option<&Value>,
        replied_user: Option<u64>,
    ) -> (Vec<u64>, Vec<u64>, bool) {
        let (users, roles, everyone) = parse_mentions(content);
        let parse: Vec<&str> = allowed
            .and_then(|a| a.get("parse"))
            .and_then(Value::as_array)
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let listed = |key: &str, id: u64| {
            allowed
                .and_then(|a| a.get(key))
                .and_then(Value::as_array)
                .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(&id.to_string())))
        };
        let all = allowed.is_none();
        let guild = guild_id.and_then(|g| self.guilds.get(&g));
        let mut user_mentions: Vec<u64> = users
            .into_iter()
            .filter(|u| self.users.contains_key(u))
            .filter(|u| all || parse.contains(&"users") || listed("users", *u))
            .collect();
        if let Some(replied) = replied_user {
            let ping = allowed
                .map(|a| {
                    a.get("replied_user")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                })
                .unwrap_or(true);
            if ping && !user_mentions.contains(&replied) {
                user_mentions.push(replied);
            }
        }
        user_mentions.dedup();
        let role_mentions: Vec<u64> = roles
            .into_iter()
            .filter(|r| guild.is_some_and(|g| g.roles.iter().any(|role| role.id == *r)))
            .filter(|r| all || parse.contains(&"roles") || listed("roles", *r))
            .collect();
        let everyone = everyone && (all || parse.contains(&"everyone"));
        (user_mentions, role_mentions, everyone)
    }

    /// Elapsed milliseconds since start, for call records.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

pub(crate) fn user_value(u: &User) -> Value {
    let mut value = json!({
        "id": u.id.to_string(),
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": u.avatar,
        "avatar_decoration_data": null,
        "banner": null,
        "accent_color": null,
        "public_flags": 0,
    });
    if u.bot {
        value["bot"] = json!(true);
    }
    value
}

/// Finds `<@id>`, `<@!id>`, `<@&id>`, `@everyone` and `@here` in message text.
pub(crate) fn parse_mentions(content: &str) -> (Vec<u64>, Vec<u64>, bool) {
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let (is_role, body) = match rest.strip_prefix('&') {
            Some(b) => (true, b),
            None => (false, rest.strip_prefix('!').unwrap_or(rest)),
        };
        if let Some(end) = body.find('>')
            && let Ok(id) = body[..end].parse::<u64>()
        {
            if is_role {
                roles.push(id)
            } else {
                users.push(id)
            }
        }
    }
    users.dedup();
    roles.dedup();
    let everyone = content.contains("@everyone") || content.contains("@here");
    (users, roles, everyone)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small world with fixed ids: a guild with a text channel, a thread, a DM, a bot and a
    /// member, and one webhook message.
    fn sample() -> World {
        let mut world = World::new(&SimConfig::default());
        world.base_url = "http://127.0.0.1:1".into();
        for (id, name, bot) in [(10, "alice", false), (11, "kakusan", true)] {
            world.users.insert(
                id,
                User {
                    id,
                    username: name.into(),
                    global_name: None,
                    avatar: None,
                    bot,
                },
            );
        }
        let app = App {
            id: 1,
            name: "kakusan".into(),
            bot_user_id: 11,
            owner_id: 10,
            token: "t".into(),
            message_content: true,
        };
        world.apps.insert(1, app);
        let mut guild = Guild {
            id: 100,
            name: "alpha".into(),
            owner_id: 10,
            roles: vec![Role {
                id: 100,
                name: "@everyone".into(),
                permissions: 0,
                position: 0,
                bot_id: None,
            }],
            members: BTreeMap::new(),
            apps: [1].into_iter().collect(),
        };
        for user in [10, 11] {
            guild.members.insert(
                user,
                Member {
                    user_id: user,
                    roles: vec![],
                    nick: None,
                    joined_at: "2025-01-01T00:00:00.000000+00:00".into(),
                },
            );
        }
        world.guilds.insert(100, guild);
        let channel = |id, kind, parent_id, guild_id, recipients| Channel {
            id,
            guild_id,
            kind,
            name: format!("c{id}"),
            parent_id,
            position: 0,
            overwrites: vec![Overwrite {
                id: 100,
                kind: 0,
                allow: 1024,
                deny: 0,
            }],
            recipients,
            archived: false,
            locked: false,
        };
        world.channels.insert(
            200,
            channel(200, CHANNEL_GUILD_TEXT, None, Some(100), vec![]),
        );
        world.channels.insert(
            1 << 30,
            channel(1 << 30, CHANNEL_PUBLIC_THREAD, Some(200), Some(100), vec![]),
        );
        world
            .channels
            .insert(202, channel(202, CHANNEL_DM, None, None, vec![10, 11]));
        world.messages.insert(
            300,
            Message {
                id: 300,
                channel_id: 200,
                guild_id: Some(100),
                author_id: 400,
                author_name: "alice (beta)".into(),
                author_avatar: None,
                avatar_url: None,
                author_bot: true,
                webhook_id: Some(400),
                application_id: Some(1),
                content: "hi <@10>".into(),
                embeds: vec![],
                components: vec![],
                attachments: vec![],
                allowed_mentions: Some(json!({ "parse": [] })),
                mentions: vec![],
                mention_roles: vec![],
                mention_everyone: false,
                flags: 0,
                kind: 0,
                timestamp: "2025-01-01T00:00:00.000000+00:00".into(),
                edited_timestamp: None,
                tts: false,
                interaction_metadata: None,
                message_reference: None,
                deleted: false,
                ephemeral_for: None,
            },
        );
        world
    }

    #[test]
    fn webhook_message_json_is_pinned() {
        let world = sample();
        let golden = json!({
            "id": "300", "channel_id": "200",
            "author": {
                "id": "400", "username": "alice (beta)", "avatar": null, "discriminator": "0000",
                "global_name": null, "public_flags": 0, "flags": 0, "bot": true,
            },
            "content": "hi <@10>",
            "timestamp": "2025-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "components": [], "pinned": false,
            "type": 0, "flags": 0, "webhook_id": "400", "application_id": "1",
        });
        assert_eq!(world.message_json(&world.messages[&300]), golden);
        let event = world.message_event_json(&world.messages[&300]);
        assert_eq!(event["guild_id"], "100");
        assert!(
            event.get("member").is_none(),
            "webhook messages carry no member"
        );
    }

    #[test]
    fn every_shape_deserialises_into_twilight_models() {
        use twilight_model as tm;
        let world = sample();
        let app = world.apps[&1].clone();
        let guild = world.guilds[&100].clone();
        for channel in world.channels.values() {
            let value = world.channel_json(channel);
            serde_json::from_value::<tm::channel::Channel>(value.clone())
                .unwrap_or_else(|e| panic!("{e}: {value}"));
        }
        serde_json::from_value::<tm::guild::Guild>(world.guild_json(&guild, None)).unwrap();
        let full = serde_json::from_value::<tm::guild::Guild>(world.guild_json(&guild, Some(&app)))
            .unwrap();
        assert_eq!(full.channels.len(), 1);
        assert_eq!(full.threads.len(), 1);
        serde_json::from_value::<tm::guild::Member>(world.member_json(&guild.members[&10], true))
            .unwrap();
        serde_json::from_value::<tm::guild::Role>(World::role_json(&guild.roles[0])).unwrap();
        serde_json::from_value::<tm::user::CurrentUser>(world.current_user_json(&app)).unwrap();
        let message = serde_json::from_value::<tm::channel::Message>(
            world.message_event_json(&world.messages[&300]),
        )
        .unwrap();
        assert_eq!(message.author.discriminator, 0);
        let webhook = Webhook {
            id: 400,
            token: "tok".into(),
            channel_id: 200,
            guild_id: 100,
            name: "relay".into(),
            avatar: None,
            creator_id: Some(11),
            application_id: Some(1),
        };
        let parsed = serde_json::from_value::<tm::channel::Webhook>(
            world.webhook_json(&webhook, true, true),
        )
        .unwrap();
        assert_eq!(parsed.token.as_deref(), Some("tok"));
    }

    #[test]
    fn parses_every_mention_form() {
        let (users, roles, everyone) = parse_mentions("hi <@1> <@!2> <@&3> @here <@x>");
        assert_eq!(users, vec![1, 2]);
        assert_eq!(roles, vec![3]);
        assert!(everyone);
    }
}
