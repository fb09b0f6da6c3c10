//! The slash-command definitions against the Discord simulator, which validates them as
//! strictly as Discord: registration globally and in a guild, stable ids, Japanese
//! localisations, default permissions as members meet them, and parsing what members send.

use std::collections::HashMap;

use discord_sim::{
    CommandInvocation, CommandOptionValue, DiscordSim, MANAGE_GUILD, SimError, Upload,
};
use kakusan_commands::{
    model::{
        CommandParseError, HereCommand, KakusanCommand, PingCommand, QueueCommand,
        RegserverCommand, RegtimesCommand, ServerAutocomplete, UnregserverCommand, definitions,
    },
    register::register,
};
use twilight_interactions::command::{AutocompleteValue, CommandModel};
use twilight_model::{
    application::{
        command::{Command, CommandOption, CommandOptionType, CommandType},
        interaction::{
            Interaction, InteractionContextType, InteractionData,
            application_command::{CommandData, CommandDataOption, CommandOptionValue as Value},
        },
    },
    channel::ChannelType,
    guild::Permissions,
    id::Id,
};

/// The commands Discord's default should reserve to Manage Server.
const ADMIN: [&str; 6] = [
    "setup",
    "card",
    "regserver",
    "unregserver",
    "block",
    "unblock",
];

/// A simulator with one application whose bot is in guild `alpha` (owned by `alice`), a text
/// channel there, and a REST client for the bot.
struct World {
    sim: DiscordSim,
    app: u64,
    guild: u64,
    channel: u64,
    owner: u64,
    http: twilight_http::Client,
}

async fn world() -> World {
    // A second install in the same process fails harmlessly: the provider is already there.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = DiscordSim::start_default().await.expect("simulator starts");
    let app = sim.create_application("kakusan");
    let owner = sim.create_user("alice");
    let guild = sim.create_guild("alpha", owner).unwrap();
    let channel = sim.create_channel(guild, "times-alice").unwrap();
    sim.add_bot(guild, app.id, discord_sim::ADMINISTRATOR)
        .unwrap();
    let http = twilight_http::Client::builder()
        .token(app.token.clone())
        .proxy(sim.proxy_host(), true)
        .build();
    World {
        sim,
        app: app.id,
        guild,
        channel,
        owner,
        http,
    }
}

fn names(commands: &[Command]) -> Vec<&str> {
    commands.iter().map(|c| c.name.as_str()).collect()
}

fn ids(commands: &[Command]) -> HashMap<String, u64> {
    commands
        .iter()
        .map(|c| (c.name.clone(), c.id.expect("Discord gives an id").get()))
        .collect()
}

#[tokio::test]
async fn registering_globally_and_in_a_guild_is_accepted_and_keeps_ids() {
    let w = world().await;
    let expected = [
        "setup",
        "card",
        "regserver",
        "unregserver",
        "serverlist",
        "regtimes",
        "unregtimes",
        "sharelist",
        "here",
        "ping",
        "pingall",
        "queue",
        "forget-me",
        "pause",
        "resume",
        "block",
        "unblock",
    ];

    let global = register(&w.http, Id::new(w.app), None).await.unwrap();
    assert_eq!(names(&global), expected);
    let guild = register(&w.http, Id::new(w.app), Some(Id::new(w.guild)))
        .await
        .unwrap();
    assert_eq!(names(&guild), expected);
    assert_eq!(w.sim.commands(w.app, None).len(), expected.len());
    assert_eq!(w.sim.commands(w.app, Some(w.guild)).len(), expected.len());

    // A restart registers again; commands keep their ids, so nothing a member sees changes.
    let global_again = register(&w.http, Id::new(w.app), None).await.unwrap();
    let guild_again = register(&w.http, Id::new(w.app), Some(Id::new(w.guild)))
        .await
        .unwrap();
    assert_eq!(ids(&global_again), ids(&global));
    assert_eq!(ids(&guild_again), ids(&guild));
    assert_eq!(w.sim.commands(w.app, None).len(), expected.len());
}

#[tokio::test]
async fn a_guild_the_bot_is_not_in_is_refused_with_a_plain_sentence() {
    let w = world().await;
    let other = w.sim.create_guild("beta", w.owner).unwrap();
    let error = register(&w.http, Id::new(w.app), Some(Id::new(other)))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("Discord did not accept kakusan's slash commands in guild {other}")
    );
    assert!(std::error::Error::source(&error).is_some());
}

/// Asserts that `what` has a Japanese description that differs from the English one.
fn assert_ja(what: &str, english: &str, localizations: Option<&HashMap<String, String>>) {
    let ja = localizations
        .and_then(|l| l.get("ja"))
        .unwrap_or_else(|| panic!("{what} has no ja description"));
    assert!(!ja.is_empty() && ja != english, "{what}: {ja}");
    assert!(ja.chars().count() <= 100, "{what}: {ja}");
    assert!(english.chars().count() <= 100, "{what}: {english}");
}

fn assert_all_ja(commands: &[Command]) {
    for command in commands {
        assert_ja(
            &command.name,
            &command.description,
            command.description_localizations.as_ref(),
        );
        for option in &command.options {
            assert_ja(
                &format!("{} {}", command.name, option.name),
                &option.description,
                option.description_localizations.as_ref(),
            );
        }
    }
}

#[tokio::test]
async fn every_description_has_a_japanese_localisation_as_discord_stores_it() {
    let w = world().await;
    assert_all_ja(&definitions());

    register(&w.http, Id::new(w.app), None).await.unwrap();
    register(&w.http, Id::new(w.app), Some(Id::new(w.guild)))
        .await
        .unwrap();
    let interaction = w.http.interaction(Id::new(w.app));
    let global: Vec<Command> = interaction
        .global_commands()
        .with_localizations(true)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    let guild: Vec<Command> = interaction
        .guild_commands(Id::new(w.guild))
        .with_localizations(true)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(global.len(), definitions().len());
    assert_eq!(guild.len(), definitions().len());
    assert_all_ja(&global);
    assert_all_ja(&guild);
}

#[test]
fn definitions_are_guild_only_with_manage_server_on_admin_commands() {
    for command in definitions() {
        assert_eq!(command.kind, CommandType::ChatInput);
        assert_eq!(
            command.contexts,
            Some(vec![InteractionContextType::Guild]),
            "{}",
            command.name
        );
        #[allow(deprecated, reason = "the older clients still read dm_permission")]
        let dm_permission = command.dm_permission;
        assert_eq!(dm_permission, Some(false), "{}", command.name);
        let expected = ADMIN
            .contains(&command.name.as_str())
            .then_some(Permissions::MANAGE_GUILD);
        assert_eq!(
            command.default_member_permissions, expected,
            "{}",
            command.name
        );
    }
}

fn option<'a>(commands: &'a [Command], command: &str, name: &str) -> &'a CommandOption {
    commands
        .iter()
        .find(|c| c.name == command)
        .and_then(|c| c.options.iter().find(|o| o.name == name))
        .unwrap_or_else(|| panic!("/{command} {name}"))
}

#[test]
fn options_have_the_shapes_the_handlers_expect() {
    let commands = definitions();

    let name = option(&commands, "setup", "name");
    assert_eq!(name.kind, CommandOptionType::String);
    assert_eq!(name.max_length, Some(32));
    assert_eq!(name.required, Some(true));
    let channel = option(&commands, "setup", "channel");
    assert_eq!(channel.kind, CommandOptionType::Channel);
    assert_eq!(channel.channel_types, Some(vec![ChannelType::GuildText]));

    for command in ["unregserver", "ping", "block", "unblock"] {
        assert_eq!(
            option(&commands, command, "server").autocomplete,
            Some(true)
        );
    }

    // The 2,000-character limit is the handler's, so it can say how long the message was.
    let message = option(&commands, "here", "message");
    assert_eq!(message.max_length, None);
    assert_eq!(message.required, Some(true));
    assert_eq!(
        option(&commands, "here", "attachment").kind,
        CommandOptionType::Attachment
    );
    assert_eq!(option(&commands, "here", "at").required, Some(false));
    assert_eq!(
        option(&commands, "regtimes", "mirror").kind,
        CommandOptionType::Boolean
    );
    assert_eq!(
        option(&commands, "queue", "all").kind,
        CommandOptionType::Boolean
    );
    // /block alone lists the blocks; /unblock must name whom.
    let member = option(&commands, "block", "member");
    assert_eq!(member.kind, CommandOptionType::User);
    assert_eq!(member.required, Some(false));
    assert_eq!(
        option(&commands, "block", "purge").kind,
        CommandOptionType::Boolean
    );
    assert_eq!(option(&commands, "unblock", "member").required, Some(true));
}

/// The command data of an interaction the simulator dispatched, read as twilight reads the
/// gateway's INTERACTION_CREATE.
fn dispatched_data(sim: &DiscordSim, id: u64) -> Box<CommandData> {
    let stored = sim
        .interaction(id)
        .expect("the simulator stored the interaction");
    let interaction: Interaction = serde_json::from_value(stored.payload).unwrap();
    match interaction.data {
        Some(InteractionData::ApplicationCommand(data)) => data,
        other => panic!("not command data: {other:?}"),
    }
}

#[tokio::test]
async fn members_without_manage_server_cannot_invoke_setup_but_can_invoke_here() {
    let w = world().await;
    register(&w.http, Id::new(w.app), Some(Id::new(w.guild)))
        .await
        .unwrap();
    let bob = w.sim.create_member(w.guild, "bob", &[]).unwrap();
    let setup = CommandInvocation::new(w.app, w.channel, bob, "setup")
        .option("name", CommandOptionValue::String("alpha".into()))
        .option("channel", CommandOptionValue::Channel(w.channel));

    for name in ADMIN {
        let refused = w
            .sim
            .invoke_command(&CommandInvocation::new(w.app, w.channel, bob, name));
        assert!(
            matches!(&refused, Err(SimError::Invalid(why)) if why.contains("default_member_permissions")),
            "/{name}: {refused:?}"
        );
    }
    // A server may override Discord's default; then the handler's own check is what is left.
    w.sim
        .invoke_command(&setup.clone().with_permission_override())
        .unwrap();

    // Manage Server through a role is enough.
    let managers = w
        .sim
        .create_role(w.guild, "managers", MANAGE_GUILD)
        .unwrap();
    let carol = w.sim.create_member(w.guild, "carol", &[managers]).unwrap();
    let invoked = w
        .sim
        .invoke_command(&CommandInvocation {
            user_id: carol,
            ..setup
        })
        .unwrap();
    let KakusanCommand::Setup(parsed) =
        KakusanCommand::parse(*dispatched_data(&w.sim, invoked.id)).unwrap()
    else {
        panic!("not /setup");
    };
    assert_eq!(parsed.name, "alpha");
    assert_eq!(parsed.channel.id.get(), w.channel);
    assert_eq!(parsed.channel.kind, ChannelType::GuildText);

    // Everyone can relay, including the text the handler must refuse for its length.
    let long = "あ".repeat(2001);
    let here = w
        .sim
        .invoke_command(
            &CommandInvocation::new(w.app, w.channel, bob, "here")
                .option("message", CommandOptionValue::String(long.clone()))
                .option(
                    "attachment",
                    CommandOptionValue::Attachment(Upload {
                        filename: "note.txt".into(),
                        content_type: Some("text/plain".into()),
                        data: b"hello".to_vec(),
                    }),
                )
                .option("at", CommandOptionValue::String("30m".into())),
        )
        .unwrap();
    let command = KakusanCommand::parse(*dispatched_data(&w.sim, here.id)).unwrap();
    assert!(!command.needs_manage_guild());
    let KakusanCommand::Here(HereCommand {
        message,
        attachment,
        at,
    }) = command
    else {
        panic!("not /here");
    };
    assert_eq!(message, long);
    assert_eq!(
        attachment.expect("resolved attachment").filename,
        "note.txt"
    );
    assert_eq!(at.as_deref(), Some("30m"));
}

#[tokio::test]
async fn commands_cannot_be_invoked_in_a_dm() {
    let w = world().await;
    register(&w.http, Id::new(w.app), None).await.unwrap();
    let dm = w.sim.create_dm(w.owner, w.app).unwrap();
    let refused = w
        .sim
        .invoke_command(&CommandInvocation::new(w.app, dm, w.owner, "serverlist"));
    assert!(
        matches!(&refused, Err(SimError::Invalid(why)) if why.contains("context")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn autocomplete_of_server_is_read_by_the_shared_model() {
    let w = world().await;
    register(&w.http, Id::new(w.app), Some(Id::new(w.guild)))
        .await
        .unwrap();
    for name in ["unregserver", "ping"] {
        let invocation = CommandInvocation::new(w.app, w.channel, w.owner, name)
            .option("server", CommandOptionValue::String("be".into()));
        let sent = w.sim.autocomplete(&invocation, "server").unwrap();
        let data = dispatched_data(&w.sim, sent.id);
        let model = ServerAutocomplete::from_interaction((*data).into()).unwrap();
        assert_eq!(
            model.server,
            AutocompleteValue::Focused("be".into()),
            "{name}"
        );
    }
}

/// Command data as Discord sends it for `name` with `options`.
fn data(name: &str, options: Vec<(&str, Value)>) -> CommandData {
    CommandData {
        guild_id: None,
        id: Id::new(1),
        kind: CommandType::ChatInput,
        name: name.to_owned(),
        options: options
            .into_iter()
            .map(|(name, value)| CommandDataOption {
                name: name.to_owned(),
                value,
            })
            .collect(),
        resolved: None,
        target_id: None,
    }
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

#[test]
fn every_command_parses_from_hand_built_data() {
    let cases: Vec<(CommandData, KakusanCommand, bool)> = vec![
        (data("card", vec![]), KakusanCommand::Card, true),
        (
            data("regserver", vec![("card", string("kakusan1:abc"))]),
            KakusanCommand::Regserver(RegserverCommand {
                card: "kakusan1:abc".into(),
            }),
            true,
        ),
        (
            data("unregserver", vec![("server", string("beta"))]),
            KakusanCommand::Unregserver(UnregserverCommand {
                server: "beta".into(),
                keep_master: None,
            }),
            true,
        ),
        (
            data("serverlist", vec![]),
            KakusanCommand::Serverlist,
            false,
        ),
        (
            data("regtimes", vec![]),
            KakusanCommand::Regtimes(RegtimesCommand { mirror: None }),
            false,
        ),
        (
            data("regtimes", vec![("mirror", Value::Boolean(true))]),
            KakusanCommand::Regtimes(RegtimesCommand { mirror: Some(true) }),
            false,
        ),
        (
            data("unregtimes", vec![]),
            KakusanCommand::Unregtimes,
            false,
        ),
        (data("sharelist", vec![]), KakusanCommand::Sharelist, false),
        (
            data("here", vec![("message", string("hi"))]),
            KakusanCommand::Here(HereCommand {
                message: "hi".into(),
                attachment: None,
                at: None,
            }),
            false,
        ),
        (
            data("ping", vec![("server", string("beta"))]),
            KakusanCommand::Ping(PingCommand {
                server: "beta".into(),
            }),
            false,
        ),
        (data("pingall", vec![]), KakusanCommand::Pingall, false),
        (
            data("queue", vec![]),
            KakusanCommand::Queue(QueueCommand { all: None }),
            false,
        ),
        (
            data("queue", vec![("all", Value::Boolean(false))]),
            KakusanCommand::Queue(QueueCommand { all: Some(false) }),
            false,
        ),
        (
            data("queue", vec![("all", Value::Boolean(true))]),
            KakusanCommand::Queue(QueueCommand { all: Some(true) }),
            true,
        ),
    ];
    for (data, expected, needs_manage_guild) in cases {
        let name = data.name.clone();
        let parsed = KakusanCommand::parse(data).unwrap();
        assert_eq!(parsed, expected);
        assert_eq!(parsed.name(), name);
        assert_eq!(parsed.needs_manage_guild(), needs_manage_guild, "/{name}");
    }
}

#[test]
fn every_defined_command_has_a_variant_of_the_same_name() {
    // `/setup` needs a resolved channel, so it is covered by the simulator test; here it must
    // at least reach its own model rather than be unknown.
    for command in definitions() {
        match KakusanCommand::parse(data(&command.name, vec![])) {
            Ok(parsed) => assert_eq!(parsed.name(), command.name),
            Err(CommandParseError::Options {
                command: parsed, ..
            }) => assert_eq!(parsed, command.name),
            Err(other) => panic!("/{}: {other}", command.name),
        }
    }
}

#[test]
fn unknown_commands_and_bad_options_are_plain_errors() {
    let unknown = KakusanCommand::parse(data("relay", vec![])).unwrap_err();
    assert_eq!(unknown.to_string(), "there is no command named /relay");

    let missing = KakusanCommand::parse(data("here", vec![])).unwrap_err();
    assert_eq!(missing.to_string(), "could not read the options of /here");
    assert!(std::error::Error::source(&missing).is_some());

    let stray = KakusanCommand::parse(data("card", vec![("all", Value::Boolean(true))]));
    assert!(matches!(
        stray,
        Err(CommandParseError::Options {
            command: "card",
            ..
        })
    ));

    let wrong_type = KakusanCommand::parse(data("queue", vec![("all", string("yes"))]));
    assert!(matches!(
        wrong_type,
        Err(CommandParseError::Options {
            command: "queue",
            ..
        })
    ));
}
