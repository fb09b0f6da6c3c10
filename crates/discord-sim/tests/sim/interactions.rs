//! Interactions with real twilight clients: INTERACTION_CREATE, every response path, the
//! 3-second deadline, double acknowledgement, autocomplete and buttons.

use std::time::Duration;

use discord_sim::{CommandInvocation, CommandOptionValue, Upload};
use serde_json::json;
use twilight_gateway::Event;
use twilight_model::application::interaction::{InteractionData, InteractionType};
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;

use crate::common::*;

fn here_command() -> serde_json::Value {
    json!([{
        "type": 1, "name": "here", "description": "Relay a message", "version": "1",
        "options": [
            { "type": 3, "name": "message", "description": "What to say", "required": true },
            { "type": 11, "name": "attachment", "description": "A file" },
            { "type": 7, "name": "channel", "description": "Where" },
            { "type": 3, "name": "server", "description": "Peer", "autocomplete": true }
        ]
    }])
}

fn message_response(content: &str, flags: Option<MessageFlags>) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some(content.to_owned()),
            flags,
            ..InteractionResponseData::default()
        }),
    }
}

#[tokio::test]
async fn command_interaction_is_realistic_and_deferred_response_can_be_edited() {
    let f = fixture().await;
    register(&f, here_command()).await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let invocation = CommandInvocation::new(f.app.id, f.channel, f.member, "here")
        .option("message", CommandOptionValue::String("hi all".into()))
        .option(
            "attachment",
            CommandOptionValue::Attachment(Upload {
                filename: "note.txt".into(),
                content_type: Some("text/plain".into()),
                data: b"file body".to_vec(),
            }),
        )
        .option("channel", CommandOptionValue::Channel(f.channel));
    let reference = f.sim.invoke_command(&invocation).unwrap();
    let interaction = next_interaction(&mut shard).await;
    assert_eq!(interaction.id, Id::new(reference.id));
    assert_eq!(interaction.kind, InteractionType::ApplicationCommand);
    assert_eq!(interaction.guild_id, Some(Id::new(f.guild)));
    assert_eq!(
        interaction.channel.as_ref().map(|c| c.id),
        Some(Id::new(f.channel))
    );
    assert_eq!(interaction.author_id(), Some(Id::new(f.member)));
    assert!(interaction.member.as_ref().unwrap().permissions.is_some());
    assert!(interaction.app_permissions.is_some());
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        panic!("command data expected");
    };
    assert_eq!(data.name, "here");
    let resolved = data.resolved.as_ref().unwrap();
    let attachment = resolved.attachments.values().next().unwrap();
    assert_eq!(attachment.filename, "note.txt");
    let downloaded = raw()
        .get(&attachment.url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&downloaded[..], b"file body");
    assert!(resolved.channels.contains_key(&Id::new(f.channel)));

    let client = http(&f.sim, &f.app.token);
    let api = client.interaction(Id::new(f.app.id));
    let defer = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: Some(InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }),
    };
    api.create_response(interaction.id, &interaction.token, &defer)
        .await
        .unwrap();
    let response = f.sim.wait_for_response(&reference, WAIT).await.unwrap();
    assert_eq!(response.kind, 5);
    let edited = api
        .update_response(&interaction.token)
        .content(Some("relayed to 2 servers"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.content, "relayed to 2 servers");
    let original = f.sim.original_response(reference.id).unwrap();
    assert_eq!(original.content, "relayed to 2 servers");
    assert_eq!(original.flags & 64, 64, "the ephemeral flag is kept");
    assert_eq!(
        original.flags & 128,
        0,
        "the loading flag is cleared by the edit"
    );
    let fetched = api
        .response(&interaction.token)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(fetched.id, edited.id);

    let followup = api
        .create_followup(&interaction.token)
        .content("one more thing")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(followup.content, "one more thing");
    assert_eq!(
        f.sim.interaction(reference.id).unwrap().followups,
        vec![followup.id.get()]
    );
    api.delete_response(&interaction.token).await.unwrap();
    assert!(f.sim.message(edited.id.get()).unwrap().deleted);
}

#[tokio::test]
async fn a_public_response_is_dispatched_with_interaction_metadata() {
    let f = fixture().await;
    register(&f, here_command()).await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let invocation = CommandInvocation::new(f.app.id, f.channel, f.member, "here")
        .option("message", CommandOptionValue::String("hi".into()));
    f.sim.invoke_command(&invocation).unwrap();
    let interaction = next_interaction(&mut shard).await;
    let client = http(&f.sim, &f.app.token);
    client
        .interaction(Id::new(f.app.id))
        .create_response(
            interaction.id,
            &interaction.token,
            &message_response("done", None),
        )
        .await
        .unwrap();
    let message = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(message.content, "done");
    assert_eq!(message.author.id, Id::new(f.app.bot_user_id));
    assert_eq!(message.application_id, Some(Id::new(f.app.id)));
    assert_eq!(
        message.interaction_metadata.as_ref().map(|m| m.id),
        Some(interaction.id)
    );
}

#[tokio::test]
async fn a_second_initial_response_fails_with_40060() {
    let f = fixture().await;
    register(&f, here_command()).await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let invocation = CommandInvocation::new(f.app.id, f.channel, f.member, "here")
        .option("message", CommandOptionValue::String("hi".into()));
    f.sim.invoke_command(&invocation).unwrap();
    let interaction = next_interaction(&mut shard).await;
    let client = http(&f.sim, &f.app.token);
    let api = client.interaction(Id::new(f.app.id));
    let response = message_response("first", Some(MessageFlags::EPHEMERAL));
    api.create_response(interaction.id, &interaction.token, &response)
        .await
        .unwrap();
    let error = api
        .create_response(interaction.id, &interaction.token, &response)
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (400, Some(40060)));
}

#[tokio::test]
async fn a_response_after_the_deadline_fails_with_10062() {
    let f = fixture().await;
    register(&f, here_command()).await;
    f.sim.set_interaction_deadline(Duration::ZERO);
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let invocation = CommandInvocation::new(f.app.id, f.channel, f.member, "here")
        .option("message", CommandOptionValue::String("hi".into()));
    f.sim.invoke_command(&invocation).unwrap();
    let interaction = next_interaction(&mut shard).await;
    let client = http(&f.sim, &f.app.token);
    let error = client
        .interaction(Id::new(f.app.id))
        .create_response(
            interaction.id,
            &interaction.token,
            &message_response("late", None),
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (404, Some(10062)));
    assert!(
        f.sim
            .interaction(interaction.id.get())
            .unwrap()
            .response
            .is_none()
    );
}

#[tokio::test]
async fn autocomplete_choices_can_be_read_back() {
    let f = fixture().await;
    register(&f, here_command()).await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let invocation = CommandInvocation::new(f.app.id, f.channel, f.member, "here")
        .option("message", CommandOptionValue::String("hi".into()))
        .option("server", CommandOptionValue::String("be".into()));
    let reference = f.sim.autocomplete(&invocation, "server").unwrap();
    let interaction = next_interaction(&mut shard).await;
    assert_eq!(
        interaction.kind,
        InteractionType::ApplicationCommandAutocomplete
    );
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        panic!("command data expected");
    };
    assert!(data.options.iter().any(|o| o.name == "server"));
    let response: InteractionResponse = serde_json::from_value(json!({
        "type": 8,
        "data": { "choices": [ { "name": "beta", "value": "beta" } ] }
    }))
    .unwrap();
    client_for(&f)
        .interaction(Id::new(f.app.id))
        .create_response(interaction.id, &interaction.token, &response)
        .await
        .unwrap();
    let read = f.sim.wait_for_response(&reference, WAIT).await.unwrap();
    assert_eq!(read.kind, 8);
    assert_eq!(read.data["choices"][0]["value"], "beta");
}

fn client_for(f: &Fixture) -> twilight_http::Client {
    http(&f.sim, &f.app.token)
}

#[tokio::test]
async fn pressing_a_button_sends_a_component_interaction_that_can_update_the_message() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let client = client_for(&f);
    let components: Vec<twilight_model::channel::message::Component> = serde_json::from_value(json!([
        { "type": 1, "components": [ { "type": 2, "style": 4, "label": "Cancel", "custom_id": "cancel:42" } ] }
    ]))
    .unwrap();
    let message = client
        .create_message(Id::new(f.channel))
        .content("job 42 pending")
        .components(&components)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let reference = f
        .sim
        .press_button(message.id.get(), f.member, "cancel:42")
        .unwrap();
    let interaction = next_interaction(&mut shard).await;
    assert_eq!(interaction.kind, InteractionType::MessageComponent);
    let Some(InteractionData::MessageComponent(data)) = &interaction.data else {
        panic!("component data expected");
    };
    assert_eq!(data.custom_id, "cancel:42");
    assert_eq!(interaction.message.as_ref().map(|m| m.id), Some(message.id));
    let update = InteractionResponse {
        kind: InteractionResponseType::UpdateMessage,
        data: Some(InteractionResponseData {
            content: Some("job 42 cancelled".into()),
            components: Some(Vec::new()),
            ..InteractionResponseData::default()
        }),
    };
    client
        .interaction(Id::new(f.app.id))
        .create_response(interaction.id, &interaction.token, &update)
        .await
        .unwrap();
    assert_eq!(
        f.sim
            .wait_for_response(&reference, WAIT)
            .await
            .unwrap()
            .kind,
        7
    );
    let stored = f.sim.message(message.id.get()).unwrap();
    assert_eq!(stored.content, "job 42 cancelled");
    assert!(stored.components.is_empty());
}

#[tokio::test]
async fn the_first_followup_after_a_defer_fills_the_loading_message() {
    let f = fixture().await;
    register(&f, here_command()).await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let invocation = CommandInvocation::new(f.app.id, f.channel, f.member, "here")
        .option("message", CommandOptionValue::String("hi".into()));
    let reference = f.sim.invoke_command(&invocation).unwrap();
    let interaction = next_interaction(&mut shard).await;
    let client = client_for(&f);
    let api = client.interaction(Id::new(f.app.id));
    let defer = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: None,
    };
    api.create_response(interaction.id, &interaction.token, &defer)
        .await
        .unwrap();
    let followup = api
        .create_followup(&interaction.token)
        .content("finally")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let original = f.sim.original_response(reference.id).unwrap();
    assert_eq!(followup.id.get(), original.id);
    assert_eq!(original.content, "finally");
    let reply = f.sim.wait_for_reply(&reference, WAIT).await.unwrap();
    assert_eq!(reply.id, original.id);
    assert_eq!(f.sim.interaction_messages(reference.id).len(), 1);
}

#[tokio::test]
async fn default_member_permissions_keep_members_from_invoking_unless_overridden() {
    let f = fixture().await;
    register(
        &f,
        json!([{ "type": 1, "name": "card", "description": "Show the card", "version": "1", "default_member_permissions": "32" }]),
    )
    .await;
    let bob = f.sim.create_member(f.guild, "bob", &[]).unwrap();
    let invocation = CommandInvocation::new(f.app.id, f.channel, bob, "card");
    let refused = f.sim.invoke_command(&invocation).unwrap_err();
    assert!(
        matches!(refused, discord_sim::SimError::Invalid(_)),
        "{refused}"
    );
    f.sim
        .invoke_command(&invocation.clone().with_permission_override())
        .expect("a server override lets bob invoke it");
    let owner = CommandInvocation::new(f.app.id, f.channel, f.member, "card");
    f.sim
        .invoke_command(&owner)
        .expect("the owner holds every permission");
}

#[tokio::test]
async fn nicknames_and_avatars_reach_the_interaction_member() {
    let f = fixture().await;
    register(
        &f,
        json!([{ "type": 1, "name": "card", "description": "Show the card", "version": "1" }]),
    )
    .await;
    f.sim.set_nick(f.guild, f.member, Some("Alice A.")).unwrap();
    let hash = f.sim.set_avatar(f.member).unwrap();
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    f.sim
        .invoke_command(&CommandInvocation::new(
            f.app.id, f.channel, f.member, "card",
        ))
        .unwrap();
    let interaction = next_interaction(&mut shard).await;
    let member = interaction.member.unwrap();
    assert_eq!(member.nick.as_deref(), Some("Alice A."));
    assert_eq!(
        member.user.unwrap().avatar.map(|a| a.to_string()),
        Some(hash)
    );
}

#[tokio::test]
async fn modals_and_deferred_updates_are_accepted_for_the_right_interaction_types() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let client = client_for(&f);
    let components: Vec<twilight_model::channel::message::Component> = serde_json::from_value(json!([
        { "type": 1, "components": [ { "type": 2, "style": 1, "label": "Accept", "custom_id": "accept" } ] }
    ]))
    .unwrap();
    let message = client
        .create_message(Id::new(f.channel))
        .content("peer wants to join")
        .components(&components)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let api = client.interaction(Id::new(f.app.id));
    let first = f
        .sim
        .press_button(message.id.get(), f.member, "accept")
        .unwrap();
    let interaction = next_interaction(&mut shard).await;
    let deferred = InteractionResponse {
        kind: InteractionResponseType::DeferredUpdateMessage,
        data: None,
    };
    api.create_response(interaction.id, &interaction.token, &deferred)
        .await
        .unwrap();
    assert_eq!(f.sim.wait_for_response(&first, WAIT).await.unwrap().kind, 6);
    // After a deferred update, @original is the message the button was on.
    let edited = api
        .update_response(&interaction.token)
        .content(Some("accepted"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.id, message.id);

    let second = f
        .sim
        .press_button(message.id.get(), f.member, "accept")
        .unwrap();
    let interaction = next_interaction(&mut shard).await;
    let modal: InteractionResponse = serde_json::from_value(json!({
        "type": 9,
        "data": { "custom_id": "why", "title": "Why?", "components": [
            { "type": 1, "components": [ { "type": 4, "custom_id": "reason", "label": "Reason", "style": 1 } ] }
        ] }
    }))
    .unwrap();
    api.create_response(interaction.id, &interaction.token, &modal)
        .await
        .unwrap();
    let read = f.sim.wait_for_response(&second, WAIT).await.unwrap();
    assert_eq!(read.kind, 9);
    assert_eq!(read.data["custom_id"], "why");
}

#[tokio::test]
async fn members_and_guilds_speak_english_until_a_test_gives_them_another_language() {
    let f = fixture().await;
    register(
        &f,
        json!([{ "type": 1, "name": "card", "description": "Show the card", "version": "1" }]),
    )
    .await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let invoke = |sim: &discord_sim::DiscordSim| {
        sim.invoke_command(&CommandInvocation::new(
            f.app.id, f.channel, f.member, "card",
        ))
        .unwrap()
    };
    invoke(&f.sim);
    let english = next_interaction(&mut shard).await;
    assert_eq!(english.locale.as_deref(), Some("en-US"));
    assert_eq!(english.guild_locale.as_deref(), Some("en-US"));

    f.sim.set_user_locale(f.member, "ja").unwrap();
    f.sim.set_guild_locale(f.guild, "ja").unwrap();
    // The guild's admin changed its language: the app is told.
    let updated = next_matching(&mut shard, |e| match e {
        Event::GuildUpdate(guild) => Some(guild.preferred_locale.clone()),
        _ => None,
    })
    .await;
    assert_eq!(updated, "ja");
    invoke(&f.sim);
    let japanese = next_interaction(&mut shard).await;
    assert_eq!(japanese.locale.as_deref(), Some("ja"));
    assert_eq!(japanese.guild_locale.as_deref(), Some("ja"));

    // Only what exists can be given a language.
    assert!(f.sim.set_user_locale(999, "ja").is_err());
    assert!(f.sim.set_guild_locale(999, "ja").is_err());
}
