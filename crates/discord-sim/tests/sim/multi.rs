//! Several applications and guilds sharing one simulator, DMs, heartbeats, sharding and the
//! upload limit.

use std::time::Duration;

use discord_sim::{CommandInvocation, DiscordSim, MessageDraft, SimConfig};
use serde_json::json;
use twilight_gateway::{ConfigBuilder, Event, Intents, Shard, ShardId};
use twilight_model::id::Id;

use crate::common::*;

#[tokio::test]
async fn two_deployments_in_one_guild_see_each_others_webhook_posts_but_not_interactions() {
    let f = fixture().await;
    let other = f.sim.create_application("kakusan-beta");
    f.sim
        .add_bot(f.guild, other.id, discord_sim::ADMINISTRATOR)
        .unwrap();
    let mut a = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let mut b = ready_shard(&f.sim, &other.token, relay_intents()).await;

    // A creates a webhook; B posts through it, as a peer posts through a master webhook.
    let a_http = http(&f.sim, &f.app.token);
    let hook = a_http
        .create_webhook(Id::new(f.channel), "master")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let b_http = http(&f.sim, &other.token);
    let sent = b_http
        .execute_webhook(hook.id, hook.token.as_deref().unwrap())
        .content("{\"kind\":\"ping\"}")
        .wait()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    for shard in [&mut a, &mut b] {
        let seen = next_matching(shard, |e| match e {
            Event::MessageCreate(m) => Some(m.clone()),
            _ => None,
        })
        .await;
        assert_eq!(seen.id, sent.id);
        assert_eq!(seen.webhook_id, Some(hook.id));
        assert_eq!(
            seen.application_id,
            Some(Id::new(f.app.id)),
            "the webhook is owned by A"
        );
        assert_eq!(seen.content, "{\"kind\":\"ping\"}");
    }

    // An interaction goes only to the application whose command was invoked.
    register(
        &f,
        json!([{ "type": 1, "name": "card", "description": "Show the card", "version": "1" }]),
    )
    .await;
    f.sim
        .invoke_command(&CommandInvocation::new(
            f.app.id, f.channel, f.member, "card",
        ))
        .unwrap();
    let marker = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("marker"))
        .unwrap();
    let first_for_b = next_matching(&mut b, |e| match e {
        Event::InteractionCreate(_) => Some(None),
        Event::MessageCreate(m) => Some(Some(m.id)),
        _ => None,
    })
    .await;
    assert_eq!(first_for_b, Some(Id::new(marker)));
    let first_for_a = next_matching(&mut a, |e| {
        matches!(e, Event::InteractionCreate(_)).then_some(())
    })
    .await;
    assert_eq!(first_for_a, ());
}

#[tokio::test]
async fn dms_are_dispatched_with_content_even_without_the_intent() {
    let f = fixture().await;
    let dm = f.sim.create_dm(f.member, f.app.id).unwrap();
    let mut shard = ready_shard(&f.sim, &f.app.token, Intents::DIRECT_MESSAGES).await;
    f.sim
        .post_message(dm, f.member, MessageDraft::text("psst"))
        .unwrap();
    let message = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(message.content, "psst");
    assert_eq!(message.guild_id, None);
}

#[tokio::test]
async fn heartbeats_are_acknowledged() {
    install_crypto();
    let sim = DiscordSim::start(SimConfig {
        heartbeat_interval: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let app = sim.create_application("kakusan");
    let mut shard = ready_shard(&sim, &app.token, Intents::GUILDS).await;
    let mut acks = 0;
    next_matching(&mut shard, |e| {
        if matches!(e, Event::GatewayHeartbeatAck) {
            acks += 1;
        }
        (acks >= 2).then_some(())
    })
    .await;
    assert!(shard.latency().recent().len() >= 2);
}

#[tokio::test]
async fn guild_events_go_to_the_shard_that_owns_the_guild() {
    let f = fixture().await;
    let connect = |id: u32| {
        let config = ConfigBuilder::new(f.app.token.clone(), relay_intents())
            .proxy_url(f.sim.gateway_url())
            .build();
        Shard::with_config(ShardId::new(id, 2), config)
    };
    let owner_shard = ((f.guild >> 22) % 2) as u32;
    let mut owner = connect(owner_shard);
    let ready = next_matching(&mut owner, |e| match e {
        Event::Ready(r) => Some(r.guilds.len()),
        _ => None,
    })
    .await;
    assert_eq!(ready, 1);
    let mut other = connect(1 - owner_shard);
    let ready = next_matching(&mut other, |e| match e {
        Event::Ready(r) => Some(r.guilds.len()),
        _ => None,
    })
    .await;
    assert_eq!(ready, 0, "the other shard does not get this guild");
    let id = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("sharded"))
        .unwrap();
    let seen = next_matching(&mut owner, |e| match e {
        Event::MessageCreate(m) => Some(m.id),
        _ => None,
    })
    .await;
    assert_eq!(seen, Id::new(id));
}

#[tokio::test]
async fn uploads_over_the_limit_fail_with_40005() {
    install_crypto();
    let sim = DiscordSim::start(SimConfig {
        upload_limit: 1024,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let app = sim.create_application("kakusan");
    let owner = sim.create_user("alice");
    let guild = sim.create_guild("alpha", owner).unwrap();
    let channel = sim.create_channel(guild, "times").unwrap();
    sim.add_bot(guild, app.id, discord_sim::ADMINISTRATOR)
        .unwrap();
    let client = http(&sim, &app.token);
    let hook = client
        .create_webhook(Id::new(channel), "relay")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let files = [twilight_model::http::attachment::Attachment::from_bytes(
        "big.bin".into(),
        vec![0; 2048],
        0,
    )];
    let error = client
        .execute_webhook(hook.id, hook.token.as_deref().unwrap())
        .attachments(&files)
        .wait()
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (413, Some(40005)));
}

#[tokio::test]
async fn deleting_a_channel_deletes_its_webhooks_and_is_dispatched() {
    let f = fixture().await;
    let intents = relay_intents() | Intents::GUILD_WEBHOOKS;
    let mut shard = ready_shard(&f.sim, &f.app.token, intents).await;
    let client = http(&f.sim, &f.app.token);
    let hook = client
        .create_webhook(Id::new(f.channel), "relay")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let updated = next_matching(&mut shard, |e| match e {
        Event::WebhooksUpdate(u) => Some(u.channel_id),
        _ => None,
    })
    .await;
    assert_eq!(updated, Id::new(f.channel));
    f.sim.delete_channel(f.channel).unwrap();
    let deleted = next_matching(&mut shard, |e| match e {
        Event::ChannelDelete(c) => Some(c.id),
        _ => None,
    })
    .await;
    assert_eq!(deleted, Id::new(f.channel));
    let error = client
        .execute_webhook(hook.id, hook.token.as_deref().unwrap())
        .content("gone")
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (404, Some(10015)));
}

#[tokio::test]
async fn removing_the_bot_sends_guild_delete_and_closes_the_guild() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    f.sim.remove_bot(f.guild, f.app.id).unwrap();
    let gone = next_matching(&mut shard, |e| match e {
        Event::GuildDelete(g) => Some(g.id),
        _ => None,
    })
    .await;
    assert_eq!(gone, Id::new(f.guild));
    let error = http(&f.sim, &f.app.token)
        .guild(Id::new(f.guild))
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (403, Some(50001)));
}

#[tokio::test]
async fn members_act_only_where_their_permissions_allow() {
    let f = fixture().await;
    register(
        &f,
        json!([{ "type": 1, "name": "card", "description": "Show the card", "version": "1" }]),
    )
    .await;
    let bob = f.sim.create_member(f.guild, "bob", &[]).unwrap();
    f.sim
        .post_message(f.channel, bob, MessageDraft::text("allowed by @everyone"))
        .expect("default @everyone permissions let members post");
    f.sim
        .set_overwrite(
            f.channel,
            discord_sim::Overwrite {
                id: f.guild,
                kind: discord_sim::OVERWRITE_ROLE,
                allow: 0,
                deny: discord_sim::SEND_MESSAGES | discord_sim::USE_APPLICATION_COMMANDS,
            },
        )
        .unwrap();
    assert!(
        f.sim
            .post_message(f.channel, bob, MessageDraft::text("muted"))
            .is_err()
    );
    let invocation = CommandInvocation::new(f.app.id, f.channel, bob, "card");
    assert!(f.sim.invoke_command(&invocation).is_err());
    f.sim
        .post_message(
            f.channel,
            f.member,
            MessageDraft::text("the owner still can"),
        )
        .unwrap();
}

#[tokio::test]
async fn a_second_address_serves_the_same_world_for_rest_and_the_gateway() {
    let f = fixture().await;
    let second = f.sim.add_address().await.unwrap();
    assert_ne!(second.addr(), f.sim.addr());

    // A shard connected through the second address sees a post made through the main one.
    install_crypto();
    let mut shard = Shard::with_config(
        ShardId::ONE,
        ConfigBuilder::new(f.app.token.clone(), relay_intents())
            .proxy_url(second.gateway_url())
            .build(),
    );
    next_matching(&mut shard, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    let through_second = twilight_http::Client::builder()
        .token(f.app.token.clone())
        .proxy(second.addr().to_string(), true)
        .build();
    let hook = http(&f.sim, &f.app.token)
        .create_webhook(Id::new(f.channel), "hook")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    // The webhook made through the main address is used through the second one.
    let sent = through_second
        .execute_webhook(hook.id, hook.token.as_deref().unwrap())
        .content("via the second address")
        .wait()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let seen = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.id),
        _ => None,
    })
    .await;
    assert_eq!(seen, sent.id);
    assert_eq!(
        f.sim.messages(f.channel).last().unwrap().content,
        "via the second address"
    );
}
