//! kakusan's slash commands as twilight-interactions models: their definitions for Discord and
//! the parsing of an invoked command into [`KakusanCommand`].
//!
//! Every command is a guild-only chat-input command (`contexts = guild`, and the older
//! `dm_permission = false` for clients that still read it), installed with the bot
//! (`integration_types = guild_install`). Names stay English; every command and option
//! description carries a Japanese (`ja`) localisation next to the English text.
//!
//! The management commands (`/setup`, `/card`, `/regserver`, `/unregserver`, `/block`, `/unblock`) default to members
//! with Manage Server. That is only Discord's default: a server may override it, so handlers
//! check [`KakusanCommand::needs_manage_guild`] against the member's permissions as well.

use twilight_interactions::command::{
    AutocompleteValue, CommandModel, CreateCommand, DescLocalizations,
};
use twilight_model::{
    application::{
        command::Command,
        interaction::{InteractionChannel, application_command::CommandData},
    },
    channel::Attachment,
    guild::Permissions,
    id::{Id, marker::UserMarker},
};

/// Declares a function returning an English description with its Japanese localisation, for the
/// derive's `desc_localizations` attribute (which takes a function path, not a literal).
macro_rules! desc {
    ($name:ident, $en:literal, $ja:literal) => {
        fn $name() -> DescLocalizations {
            DescLocalizations::new($en, [("ja", $ja)])
        }
    };
}

/// The default permission of the management commands.
fn manage_guild() -> Permissions {
    Permissions::MANAGE_GUILD
}

desc!(
    setup_desc,
    "Make this guild a kakusan server: its name and bot-com channel",
    "このサーバーを kakusan のサーバーにします（名前と bot-com チャンネルを設定）"
);
desc!(
    setup_name_desc,
    "The name other servers will see for this one (up to 32 characters)",
    "他のサーバーに表示される、このサーバーの名前（32文字まで）"
);
desc!(
    setup_channel_desc,
    "The text channel where kakusan talks with other servers",
    "kakusan が他のサーバーとやり取りするテキストチャンネル"
);
desc!(
    setup_rotate_keys_desc,
    "Make new keys for this server; peers are sent the new card, signed with the old key",
    "このサーバーの鍵を新しくします（新しいカードを古い鍵で署名してピアに送ります）"
);
desc!(
    unregserver_keep_master_desc,
    "Keep this server's master webhook instead of replacing it (the peer still holds its URL)",
    "このサーバーのマスター webhook を作り直さずに残します（ピアはその URL を持ったままです）"
);
desc!(
    card_desc,
    "Show this server's card again, to give to other servers",
    "他のサーバーに渡す、このサーバーのカードをもう一度表示します"
);
desc!(
    regserver_desc,
    "Register another server from its card",
    "カードから他のサーバーを登録します"
);
desc!(
    regserver_card_desc,
    "The other server's card, as /card showed it there",
    "相手のサーバーで /card が表示したカード"
);
desc!(
    unregserver_desc,
    "Remove a registered server and everything learned from it",
    "登録したサーバーと、そこから受け取った情報をすべて削除します"
);
desc!(
    unregserver_server_desc,
    "The server to remove",
    "削除するサーバー"
);
desc!(
    serverlist_desc,
    "List the registered servers: mutual or not, last seen, last ping",
    "登録済みのサーバーを一覧表示します（相互登録か、最終接続、最終 ping）"
);
desc!(
    regtimes_desc,
    "Register this channel as your times on this server",
    "このチャンネルを、このサーバーでのあなたの times として登録します"
);
desc!(
    regtimes_mirror_desc,
    "Also relay your ordinary messages in this channel automatically",
    "このチャンネルでのあなたの通常のメッセージも自動で中継します"
);
desc!(
    unregtimes_desc,
    "Remove your times in this channel and withdraw it from other servers",
    "このチャンネルのあなたの times を削除し、他のサーバーから取り下げます"
);
desc!(
    sharelist_desc,
    "Show your times and their destinations on each server, with their state",
    "あなたの times と各サーバーの中継先を、その状態とともに表示します"
);
desc!(
    here_desc,
    "Relay a message to all your destinations",
    "メッセージをあなたのすべての中継先に送ります"
);
desc!(
    here_message_desc,
    "The message to relay (up to 2,000 characters)",
    "中継するメッセージ（2,000文字まで）"
);
desc!(
    here_attachment_desc,
    "A file to send with the message",
    "メッセージと一緒に送るファイル"
);
desc!(
    here_at_desc,
    "When to send it: 30m, 2h, 1d or an RFC 3339 time",
    "送信する時刻：30m、2h、1d、または RFC 3339 形式の日時"
);
desc!(
    ping_desc,
    "Check one registered server: a signed ping, its pong, and your webhook there",
    "登録済みのサーバーを1つ確認します（署名付き ping と応答、相手側のあなたの webhook）"
);
desc!(ping_server_desc, "The server to check", "確認するサーバー");
desc!(
    pingall_desc,
    "Check every registered server, one line each",
    "登録済みのすべてのサーバーを確認します（1サーバー1行）"
);
desc!(
    queue_desc,
    "Show your pending relays (scheduled or retrying), each with a Cancel button",
    "保留中の中継（予約済み・再試行中）を、取り消しボタン付きで表示します"
);
desc!(
    queue_all_desc,
    "Show everyone's pending relays on this server (needs Manage Server)",
    "このサーバーの全員の保留中の中継を表示します（サーバー管理権限が必要）"
);

desc!(
    pause_desc,
    "Stop relaying your posts from this server until /resume; they wait in the queue",
    "/resume するまで、このサーバーからのあなたの投稿の中継を止めます（投稿は保留されます）"
);
desc!(
    resume_desc,
    "Relay your posts again; what waited leaves in the order you posted it",
    "中継を再開します（保留中の投稿は投稿順に送信されます）"
);
desc!(
    block_desc,
    "Stop showing a member's relays here; without options, list the blocks",
    "メンバーの中継をこのサーバーに表示しないようにします（オプションなしでブロック一覧）"
);
desc!(
    block_member_desc,
    "The member whose relays are no longer shown here",
    "中継を表示しないメンバー"
);
desc!(
    block_server_desc,
    "Only their relays through this server (default: through every server)",
    "このサーバー経由の中継だけを対象にします（省略時はすべてのサーバー）"
);
desc!(
    block_purge_desc,
    "Also remove their relays already shown here",
    "すでに表示されている中継も削除します"
);
desc!(
    unblock_desc,
    "Show a blocked member's relays here again",
    "ブロックしたメンバーの中継を再び表示します"
);
desc!(
    unblock_member_desc,
    "The member to unblock",
    "ブロックを解除するメンバー"
);
desc!(
    unblock_server_desc,
    "The server the block was for (default: the block through every server)",
    "ブロックの対象にしたサーバー（省略時はすべてのサーバーへのブロック）"
);

/// `/setup name:<text> channel:<text channel>`: makes this guild a kakusan server.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "setup",
    desc_localizations = "setup_desc",
    default_permissions = "manage_guild",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct SetupCommand {
    /// The server's name as peers see it; 32 characters like a Discord command name, so it fits
    /// in lists and autocomplete choices.
    #[command(
        desc_localizations = "setup_name_desc",
        min_length = 1,
        max_length = 32
    )]
    pub name: String,
    /// The bot-com channel, where the master webhook lives; only text channels can hold one.
    #[command(
        desc_localizations = "setup_channel_desc",
        channel_types = "guild_text"
    )]
    pub channel: InteractionChannel,
    /// Whether to make new key pairs (and tell the peers, signed with the old key).
    #[command(desc_localizations = "setup_rotate_keys_desc")]
    pub rotate_keys: Option<bool>,
}

/// `/card`: shows this server's card again.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "card",
    desc_localizations = "card_desc",
    default_permissions = "manage_guild",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct CardCommand;

/// `/regserver card:<text>`: registers a peer from its card.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "regserver",
    desc_localizations = "regserver_desc",
    default_permissions = "manage_guild",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct RegserverCommand {
    /// The peer's card as pasted; the handler parses it and explains what is wrong with it.
    #[command(desc_localizations = "regserver_card_desc")]
    pub card: String,
}

/// `/unregserver server:<autocomplete>`: removes a peer.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "unregserver",
    desc_localizations = "unregserver_desc",
    default_permissions = "manage_guild",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct UnregserverCommand {
    /// The peer, as the value of an autocomplete choice (or whatever the member typed).
    #[command(desc_localizations = "unregserver_server_desc", autocomplete = true)]
    pub server: String,
    /// Keep the master webhook (the removed peer still holds its URL) instead of replacing it.
    #[command(desc_localizations = "unregserver_keep_master_desc")]
    pub keep_master: Option<bool>,
}

/// `/serverlist`: lists the peers.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "serverlist",
    desc_localizations = "serverlist_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct ServerlistCommand;

/// `/regtimes [mirror:<bool>]`: registers the current channel as the caller's times.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "regtimes",
    desc_localizations = "regtimes_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct RegtimesCommand {
    /// Whether plain messages in the channel are relayed too; absent means no.
    #[command(desc_localizations = "regtimes_mirror_desc")]
    pub mirror: Option<bool>,
}

/// `/unregtimes`: removes the caller's times in the current channel.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "unregtimes",
    desc_localizations = "unregtimes_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct UnregtimesCommand;

/// `/sharelist`: the caller's times and destinations with their state.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "sharelist",
    desc_localizations = "sharelist_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct SharelistCommand;

/// `/here message:<text> [attachment:<file>] [at:<when>]`: relays a message.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "here",
    desc_localizations = "here_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct HereCommand {
    /// The text to relay. Deliberately without `max_length`: Discord's client would refuse a
    /// longer text silently and parsing would fail, whereas the handler answers "a message can
    /// hold at most 2,000 characters; yours has N".
    #[command(desc_localizations = "here_message_desc")]
    pub message: String,
    /// A file to relay with the message.
    #[command(desc_localizations = "here_attachment_desc")]
    pub attachment: Option<Attachment>,
    /// When to send, read by [`crate::schedule::parse_schedule`]; absent means now.
    #[command(desc_localizations = "here_at_desc")]
    pub at: Option<String>,
}

/// `/ping server:<autocomplete>`: checks one peer.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "ping",
    desc_localizations = "ping_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct PingCommand {
    /// The peer, as the value of an autocomplete choice (or whatever the member typed).
    #[command(desc_localizations = "ping_server_desc", autocomplete = true)]
    pub server: String,
}

/// `/pingall`: checks every peer.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "pingall",
    desc_localizations = "pingall_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct PingallCommand;

/// `/queue [all:<bool>]`: the caller's pending relays, or everyone's.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "queue",
    desc_localizations = "queue_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct QueueCommand {
    /// Whether to show every member's pending relays; that needs Manage Server, which Discord
    /// cannot require per option, so the handler checks it.
    #[command(desc_localizations = "queue_all_desc")]
    pub all: Option<bool>,
}

/// `/forget-me`: after a confirmation, erases the caller's data here and asks every mutual peer
/// to forget them.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "forget-me",
    desc_localizations = "forget_me_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct ForgetMeCommand;

desc!(
    forget_me_desc,
    "Leave kakusan: erase your times, destinations and relayed copies here and at every peer",
    "kakusan から退会します（ここと全ピアのタイムズ・転送先・転送したコピーを消去）"
);

/// `/pause`: the caller's relays from this server wait until `/resume`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "pause",
    desc_localizations = "pause_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct PauseCommand;

/// `/resume`: the caller's waiting relays leave.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "resume",
    desc_localizations = "resume_desc",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct ResumeCommand;

/// `/block [member:<user>] [server:<autocomplete>] [purge:<bool>]`: relays from a member (through
/// one peer, or any) are no longer shown here; without options, the list of blocks.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "block",
    desc_localizations = "block_desc",
    default_permissions = "manage_guild",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct BlockCommand {
    /// The member; absent lists the blocks instead.
    #[command(desc_localizations = "block_member_desc")]
    pub member: Option<Id<UserMarker>>,
    /// The peer, as the value of an autocomplete choice; absent is every peer.
    #[command(desc_localizations = "block_server_desc", autocomplete = true)]
    pub server: Option<String>,
    /// Whether to remove the member's relays already shown here.
    #[command(desc_localizations = "block_purge_desc")]
    pub purge: Option<bool>,
}

/// `/unblock member:<user> [server:<autocomplete>]`: lifts a block.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "unblock",
    desc_localizations = "unblock_desc",
    default_permissions = "manage_guild",
    dm_permission = false,
    contexts = "guild",
    integration_types = "guild_install"
)]
pub struct UnblockCommand {
    /// The member.
    #[command(desc_localizations = "unblock_member_desc")]
    pub member: Id<UserMarker>,
    /// The peer of the block; absent is the block through every peer.
    #[command(desc_localizations = "unblock_server_desc", autocomplete = true)]
    pub server: Option<String>,
}

/// The autocomplete model of the `server` option, shared by `/unregserver`, `/ping`, `/block`
/// and `/unblock`: a partial model matches options by name only, and all name it `server`.
#[derive(Debug, Clone, PartialEq, CommandModel)]
#[command(autocomplete = true)]
pub struct ServerAutocomplete {
    /// What the member has typed so far (`Focused`), or nothing yet.
    pub server: AutocompleteValue<String>,
}

/// A parsed invocation of one of kakusan's commands.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per interaction, moved once into its handler; boxing `Here` would only \
              make matching on it clumsier"
)]
pub enum KakusanCommand {
    /// `/setup`.
    Setup(SetupCommand),
    /// `/card`.
    Card,
    /// `/regserver`.
    Regserver(RegserverCommand),
    /// `/unregserver`.
    Unregserver(UnregserverCommand),
    /// `/serverlist`.
    Serverlist,
    /// `/regtimes`.
    Regtimes(RegtimesCommand),
    /// `/unregtimes`.
    Unregtimes,
    /// `/sharelist`.
    Sharelist,
    /// `/here`.
    Here(HereCommand),
    /// `/ping`.
    Ping(PingCommand),
    /// `/pingall`.
    Pingall,
    /// `/queue`.
    Queue(QueueCommand),
    /// `/forget-me`.
    ForgetMe,
    /// `/pause`.
    Pause,
    /// `/resume`.
    Resume,
    /// `/block`.
    Block(BlockCommand),
    /// `/unblock`.
    Unblock(UnblockCommand),
}

/// Why an invoked command could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CommandParseError {
    /// The command is not one of kakusan's, e.g. left over from an older registration.
    #[error("there is no command named /{name}")]
    UnknownCommand {
        /// The name Discord sent.
        name: String,
    },
    /// An option was missing, unknown or of the wrong type.
    #[error("could not read the options of /{command}")]
    Options {
        /// The command whose options failed.
        command: &'static str,
        /// What twilight-interactions found wrong.
        #[source]
        source: twilight_interactions::error::ParseError,
    },
}

/// Parses `data` with model `T`, naming the command in the error.
fn parse_as<T: CommandModel + CreateCommand>(data: CommandData) -> Result<T, CommandParseError> {
    T::from_interaction(data.into()).map_err(|source| CommandParseError::Options {
        command: T::NAME,
        source,
    })
}

impl KakusanCommand {
    /// Reads an invoked chat-input command into its model.
    ///
    /// Commands without options are still parsed by their model, so an unexpected option (a
    /// stale registration) is an error rather than silently ignored.
    pub fn parse(data: CommandData) -> Result<Self, CommandParseError> {
        Ok(match data.name.as_str() {
            SetupCommand::NAME => Self::Setup(parse_as(data)?),
            CardCommand::NAME => parse_as::<CardCommand>(data).map(|_| Self::Card)?,
            RegserverCommand::NAME => Self::Regserver(parse_as(data)?),
            UnregserverCommand::NAME => Self::Unregserver(parse_as(data)?),
            ServerlistCommand::NAME => {
                parse_as::<ServerlistCommand>(data).map(|_| Self::Serverlist)?
            }
            RegtimesCommand::NAME => Self::Regtimes(parse_as(data)?),
            UnregtimesCommand::NAME => {
                parse_as::<UnregtimesCommand>(data).map(|_| Self::Unregtimes)?
            }
            SharelistCommand::NAME => {
                parse_as::<SharelistCommand>(data).map(|_| Self::Sharelist)?
            }
            HereCommand::NAME => Self::Here(parse_as(data)?),
            PingCommand::NAME => Self::Ping(parse_as(data)?),
            PingallCommand::NAME => parse_as::<PingallCommand>(data).map(|_| Self::Pingall)?,
            QueueCommand::NAME => Self::Queue(parse_as(data)?),
            ForgetMeCommand::NAME => parse_as::<ForgetMeCommand>(data).map(|_| Self::ForgetMe)?,
            PauseCommand::NAME => parse_as::<PauseCommand>(data).map(|_| Self::Pause)?,
            ResumeCommand::NAME => parse_as::<ResumeCommand>(data).map(|_| Self::Resume)?,
            BlockCommand::NAME => Self::Block(parse_as(data)?),
            UnblockCommand::NAME => Self::Unblock(parse_as(data)?),
            _ => return Err(CommandParseError::UnknownCommand { name: data.name }),
        })
    }

    /// The command's name without the slash, e.g. `"setup"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Setup(_) => SetupCommand::NAME,
            Self::Card => CardCommand::NAME,
            Self::Regserver(_) => RegserverCommand::NAME,
            Self::Unregserver(_) => UnregserverCommand::NAME,
            Self::Serverlist => ServerlistCommand::NAME,
            Self::Regtimes(_) => RegtimesCommand::NAME,
            Self::Unregtimes => UnregtimesCommand::NAME,
            Self::Sharelist => SharelistCommand::NAME,
            Self::Here(_) => HereCommand::NAME,
            Self::Ping(_) => PingCommand::NAME,
            Self::Pingall => PingallCommand::NAME,
            Self::Queue(_) => QueueCommand::NAME,
            Self::ForgetMe => ForgetMeCommand::NAME,
            Self::Pause => PauseCommand::NAME,
            Self::Resume => ResumeCommand::NAME,
            Self::Block(_) => BlockCommand::NAME,
            Self::Unblock(_) => UnblockCommand::NAME,
        }
    }

    /// Whether this invocation needs the member to hold Manage Server: the management
    /// commands, and `/queue all:true`. Handlers check it themselves because a server may
    /// override `default_member_permissions`, and because Discord cannot require a permission
    /// for one option only.
    pub fn needs_manage_guild(&self) -> bool {
        match self {
            Self::Setup(_) | Self::Card | Self::Regserver(_) | Self::Unregserver(_) => true,
            Self::Block(_) | Self::Unblock(_) => true,
            Self::Queue(queue) => queue.all == Some(true),
            Self::Serverlist
            | Self::Regtimes(_)
            | Self::Unregtimes
            | Self::Sharelist
            | Self::Here(_)
            | Self::Ping(_)
            | Self::Pingall
            | Self::ForgetMe
            | Self::Pause
            | Self::Resume => false,
        }
    }
}

/// The definitions of all the commands, in the order of the specification, ready for a bulk
/// overwrite.
pub fn definitions() -> Vec<Command> {
    vec![
        SetupCommand::create_command().into(),
        CardCommand::create_command().into(),
        RegserverCommand::create_command().into(),
        UnregserverCommand::create_command().into(),
        ServerlistCommand::create_command().into(),
        RegtimesCommand::create_command().into(),
        UnregtimesCommand::create_command().into(),
        SharelistCommand::create_command().into(),
        HereCommand::create_command().into(),
        PingCommand::create_command().into(),
        PingallCommand::create_command().into(),
        QueueCommand::create_command().into(),
        ForgetMeCommand::create_command().into(),
        PauseCommand::create_command().into(),
        ResumeCommand::create_command().into(),
        BlockCommand::create_command().into(),
        UnblockCommand::create_command().into(),
    ]
}
