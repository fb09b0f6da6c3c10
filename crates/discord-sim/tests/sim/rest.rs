//! REST routes kakusan uses, driven by a real twilight-http client.

use discord_sim::{CommandInvocation, MessageDraft};
use serde_json::json;
use twilight_model::application::command::Command;
use twilight_model::id::Id;

use crate::common::*;

fn commands(value: serde_json::Value) -> Vec<Command> {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn current_user_gateway_and_application() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let me = client.current_user().await.unwrap().model().await.unwrap();
    assert_eq!(me.id, Id::new(f.app.bot_user_id));
    assert_eq!(me.name, "kakusan");
    assert!(me.bot);
    let gateway = client
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(gateway.url, f.sim.gateway_url());
    assert_eq!(gateway.shards, 1);
    let app = client
        .current_user_application()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(app.id, Id::new(f.app.id));
    assert_eq!(app.bot.map(|b| b.id), Some(Id::new(f.app.bot_user_id)));
}

#[tokio::test]
async fn bulk_overwrite_global_and_guild_commands_keeps_ids() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let interaction = client.interaction(Id::new(f.app.id));
    let wanted = commands(json!([
        {
            "type": 1, "name": "setup", "description": "Set this server up",
            "description_localizations": { "ja": "サーバーを設定する" },
            "default_member_permissions": "32", "version": "1",
            "options": [
                { "type": 3, "name": "name", "description": "Federation name", "required": true },
                { "type": 7, "name": "channel", "description": "Bot-com channel", "required": true, "channel_types": [0] }
            ]
        },
        { "type": 1, "name": "card", "description": "Show the card", "version": "1" }
    ]));
    let set = interaction
        .set_global_commands(&wanted)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(set.len(), 2);
    assert!(
        set.iter()
            .all(|c| c.id.is_some() && c.application_id == Some(Id::new(f.app.id)))
    );
    let listed = interaction
        .global_commands()
        .with_localizations(true)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(listed, set);
    let plain = interaction
        .global_commands()
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert!(set[0].description_localizations.is_some());
    assert_eq!(
        plain[0].description_localizations, None,
        "without with_localizations the dictionaries are left out"
    );
    let again = interaction
        .set_global_commands(&wanted[..1])
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(
        again[0].id, set[0].id,
        "an overwrite keeps the id of a command with the same name"
    );
    assert_eq!(
        interaction
            .global_commands()
            .await
            .unwrap()
            .models()
            .await
            .unwrap()
            .len(),
        1
    );

    let guild_set = interaction
        .set_guild_commands(Id::new(f.guild), &wanted)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert!(
        guild_set
            .iter()
            .all(|c| c.guild_id == Some(Id::new(f.guild)))
    );
    assert_eq!(f.sim.commands(f.app.id, Some(f.guild)).len(), 2);

    // The guild command is what a member's invocation resolves to.
    let invocation = CommandInvocation::new(f.app.id, f.channel, f.member, "card");
    let reference = f.sim.invoke_command(&invocation).unwrap();
    let stored = f.sim.interaction(reference.id).unwrap();
    assert_eq!(
        stored.payload["data"]["id"],
        json!(guild_set[1].id.unwrap().to_string())
    );
}

#[tokio::test]
async fn channel_messages_create_get_edit_delete() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let channel = Id::new(f.channel);
    let created = client
        .create_message(channel)
        .content("one")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(created.author.id, Id::new(f.app.bot_user_id));
    let fetched = client
        .message(channel, created.id)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(fetched.content, "one");
    let edited = client
        .update_message(channel, created.id)
        .content(Some("two"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.content, "two");
    assert!(edited.edited_timestamp.is_some());
    client.delete_message(channel, created.id).await.unwrap();
    let gone = client.message(channel, created.id).await.unwrap_err();
    assert!(format!("{gone:?}").contains("10008"));
    let member_message = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("from alice"))
        .unwrap();
    let list = client
        .channel_messages(channel)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, Id::new(member_message));
}

#[tokio::test]
async fn guild_channel_member_and_role_look_ups() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let guild = client
        .guild(Id::new(f.guild))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(guild.name, "alpha");
    assert_eq!(guild.owner_id, Id::new(f.member));
    let channel = client
        .channel(Id::new(f.channel))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(channel.name.as_deref(), Some("times-alice"));
    let channels = client
        .guild_channels(Id::new(f.guild))
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(channels.len(), 1);
    let member = client
        .guild_member(Id::new(f.guild), Id::new(f.member))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(member.user.name, "alice");
    let roles = client
        .roles(Id::new(f.guild))
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert!(
        roles
            .iter()
            .any(|r| r.id == Id::new(f.guild) && r.name == "@everyone")
    );
    assert!(roles.iter().any(|r| r.managed));
}

#[tokio::test]
async fn every_call_is_recorded_with_its_client() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    client.current_user().await.unwrap();
    let call = f
        .sim
        .wait_for_call(WAIT, |c| c.path == "/api/v10/users/@me")
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?}", f.sim.calls()));
    assert_eq!(call.method, "GET");
    assert_eq!(call.status, 200);
    assert_eq!(call.client, discord_sim::ClientId::Bot(f.app.id));
    assert_eq!(
        f.sim
            .client_stats(discord_sim::ClientId::Bot(f.app.id))
            .requests,
        1
    );
}

#[tokio::test]
async fn replies_reference_the_message_and_ping_its_author_unless_told_not_to() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let original = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("question"))
        .unwrap();
    let reply = client
        .create_message(Id::new(f.channel))
        .content("answer")
        .reply(Id::new(original))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(
        reply.kind,
        twilight_model::channel::message::MessageType::Reply
    );
    assert_eq!(
        reply.referenced_message.as_ref().map(|m| m.id),
        Some(Id::new(original))
    );
    assert!(reply.mentions.iter().any(|m| m.id == Id::new(f.member)));
    let quiet = twilight_model::channel::message::AllowedMentions::default();
    let silent = client
        .create_message(Id::new(f.channel))
        .content("quiet answer")
        .reply(Id::new(original))
        .allowed_mentions(Some(&quiet))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert!(silent.mentions.is_empty());
    let missing = client
        .create_message(Id::new(f.channel))
        .content("to nothing")
        .reply(Id::new(1234))
        .await
        .unwrap_err();
    assert_eq!(api_error(&missing), (400, Some(50035)));
}

#[tokio::test]
async fn listing_messages_pages_with_before_and_limit() {
    let f = fixture().await;
    let ids: Vec<u64> = (0..5)
        .map(|i| {
            f.sim
                .post_message(f.channel, f.member, MessageDraft::text(format!("m{i}")))
                .unwrap()
        })
        .collect();
    let client = http(&f.sim, &f.app.token);
    let page = client
        .channel_messages(Id::new(f.channel))
        .before(Id::new(ids[4]))
        .limit(2)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    let got: Vec<u64> = page.iter().map(|m| m.id.get()).collect();
    assert_eq!(
        got,
        vec![ids[3], ids[2]],
        "newest first, as Discord lists them"
    );
}

#[tokio::test]
async fn posting_in_a_thread_needs_send_messages_in_threads() {
    let f = fixture_with(discord_sim::VIEW_CHANNEL | discord_sim::SEND_MESSAGES).await;
    f.sim.set_everyone_permissions(f.guild, 0).unwrap();
    let thread = f.sim.create_thread(f.channel, "log").unwrap();
    let client = http(&f.sim, &f.app.token);
    client
        .create_message(Id::new(f.channel))
        .content("in the channel")
        .await
        .unwrap();
    let error = client
        .create_message(Id::new(thread))
        .content("in the thread")
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (403, Some(50013)));
}
