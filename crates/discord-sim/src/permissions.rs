//! Permission bits, as Discord numbers them. Computing a member's permissions from roles and
//! overwrites needs the world's guilds and channels, so it lives with them (`world/access.rs`)
//! and this module stays a leaf that everything may import.

/// `CREATE_INSTANT_INVITE` and friends; only the bits the simulator checks are named.
pub const ADMINISTRATOR: u64 = 1 << 3;
/// Needed to delete other members' messages.
pub const MANAGE_MESSAGES: u64 = 1 << 13;
/// Needed to see a channel at all.
pub const VIEW_CHANNEL: u64 = 1 << 10;
/// Needed to post in a channel.
pub const SEND_MESSAGES: u64 = 1 << 11;
/// Needed to manage the guild; kakusan's management commands check it.
pub const MANAGE_GUILD: u64 = 1 << 5;
/// Needed to create, list and delete webhooks.
pub const MANAGE_WEBHOOKS: u64 = 1 << 29;
/// Needed to post in threads.
pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
/// Needed to upload files.
pub const ATTACH_FILES: u64 = 1 << 15;
/// Every permission bit Discord defines today.
pub const ALL: u64 = (1 << 51) - 1;
/// Needed to use slash commands and other interactions.
pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
/// What Discord gives `@everyone` in a new guild: invites, reactions, stream, view, send,
/// embed links, attach files, read history, external emojis, connect, speak, voice activity,
/// change nickname, application commands, request to speak, public and private threads,
/// external stickers, send in threads, activities, voice messages, polls and external apps.
pub const DEFAULT_EVERYONE: u64 = 1
    | 1 << 6
    | 1 << 9
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | 1 << 14
    | ATTACH_FILES
    | 1 << 16
    | 1 << 18
    | 1 << 20
    | 1 << 21
    | 1 << 25
    | 1 << 26
    | USE_APPLICATION_COMMANDS
    | 1 << 32
    | 1 << 35
    | 1 << 36
    | 1 << 37
    | SEND_MESSAGES_IN_THREADS
    | 1 << 39
    | 1 << 46
    | 1 << 49
    | 1 << 50;

/// Overwrite kind for a role, as in the channel's `permission_overwrites`.
pub const OVERWRITE_ROLE: u8 = 0;
/// Overwrite kind for a member.
pub const OVERWRITE_MEMBER: u8 = 1;
