//! Channel webhooks with a real twilight client: create, execute with `wait=true`, edit and
//! delete their messages, attachments, threads, and a webhook deleted behind the bot's back.

use twilight_gateway::Event;
use twilight_model::channel::Webhook;
use twilight_model::channel::message::AllowedMentions;
use twilight_model::http::attachment::Attachment;
use twilight_model::id::Id;

use crate::common::*;

/// Executes `webhook` with `content` into `thread` and returns the message.
async fn post_in_thread(
    client: &twilight_http::Client,
    webhook: &Webhook,
    thread: u64,
    content: &str,
) -> twilight_model::channel::Message {
    client
        .execute_webhook(webhook.id, webhook.token.as_deref().unwrap())
        .content(content)
        .thread_id(Id::new(thread))
        .wait()
        .await
        .unwrap()
        .model()
        .await
        .unwrap()
}

/// A webhook the app makes in `channel`, with its token.
async fn relay_webhook(client: &twilight_http::Client, channel: u64) -> Webhook {
    client
        .create_webhook(Id::new(channel), "relay")
        .await
        .unwrap()
        .model()
        .await
        .unwrap()
}

#[tokio::test]
async fn create_execute_edit_and_delete_a_webhook_message() {
    let f = fixture().await;
    let mut shard = ready_shard(&f.sim, &f.app.token, relay_intents()).await;
    let client = http(&f.sim, &f.app.token);
    let webhook = client
        .create_webhook(Id::new(f.channel), "kakusan relay")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let token = webhook.token.clone().unwrap();
    assert_eq!(webhook.channel_id, Some(Id::new(f.channel)));
    assert_eq!(webhook.application_id, Some(Id::new(f.app.id)));
    let none = AllowedMentions::default();
    let message = client
        .execute_webhook(webhook.id, &token)
        .content("hello <@123> from beta")
        .username("alice (beta)")
        .avatar_url("https://cdn.example/avatar.png")
        .allowed_mentions(Some(&none))
        .wait()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(message.webhook_id, Some(webhook.id));
    assert!(message.author.bot);
    assert_eq!(message.author.name, "alice (beta)");
    assert_eq!(message.author.id.get(), webhook.id.get());

    let dispatched = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(dispatched.id, message.id);
    assert_eq!(dispatched.webhook_id, Some(webhook.id));
    let stored = f.sim.message(message.id.get()).unwrap();
    assert_eq!(
        stored.allowed_mentions,
        Some(serde_json::json!({ "parse": [] }))
    );
    assert!(stored.mentions.is_empty());

    let edited = client
        .update_webhook_message(webhook.id, &token, message.id)
        .content(Some("hello again"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.content, "hello again");
    let update = next_matching(&mut shard, |e| match e {
        Event::MessageUpdate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(update.content, "hello again");

    client
        .delete_webhook_message(webhook.id, &token, message.id)
        .await
        .unwrap();
    let deleted = next_matching(&mut shard, |e| match e {
        Event::MessageDelete(m) => Some(m.id),
        _ => None,
    })
    .await;
    assert_eq!(deleted, message.id);
    let again = client
        .delete_webhook_message(webhook.id, &token, message.id)
        .await
        .unwrap_err();
    assert_eq!(api_error(&again), (404, Some(10008)));
}

#[tokio::test]
async fn execute_without_wait_returns_no_content_and_still_posts() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let webhook = relay_webhook(&client, f.channel).await;
    let response = client
        .execute_webhook(webhook.id, webhook.token.as_deref().unwrap())
        .content("fire and forget")
        .await
        .unwrap();
    assert_eq!(response.status().get(), 204);
    let posted = f
        .sim
        .wait_for_message(f.channel, WAIT, |m| m.content == "fire and forget")
        .await
        .unwrap();
    assert_eq!(posted.webhook_id, Some(webhook.id.get()));
    assert_eq!(posted.author_name, "relay");
}

#[tokio::test]
async fn files_are_uploaded_as_multipart_and_served() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let webhook = relay_webhook(&client, f.channel).await;
    let files = [Attachment::from_bytes(
        "photo.png".into(),
        vec![1, 2, 3, 4],
        0,
    )];
    let message = client
        .execute_webhook(webhook.id, webhook.token.as_deref().unwrap())
        .content("with a file")
        .attachments(&files)
        .wait()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(message.attachments.len(), 1);
    let attachment = &message.attachments[0];
    assert_eq!(attachment.filename, "photo.png");
    assert_eq!(attachment.size, 4);
    let body = raw()
        .get(&attachment.url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], &[1, 2, 3, 4]);
    let call = f
        .sim
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.path.ends_with(webhook.token.as_deref().unwrap()))
        .unwrap();
    assert!(call.body.contains("payload_json"));
    assert!(call.body.contains("files[0]"));
}

#[tokio::test]
async fn thread_id_posts_into_a_thread_of_the_webhook_channel() {
    let f = fixture().await;
    let thread = f.sim.create_thread(f.channel, "log").unwrap();
    let client = http(&f.sim, &f.app.token);
    let webhook = relay_webhook(&client, f.channel).await;
    let message = post_in_thread(&client, &webhook, thread, "in the thread").await;
    assert_eq!(message.channel_id, Id::new(thread));
    let other = f.sim.create_channel(f.guild, "elsewhere").unwrap();
    let error = client
        .execute_webhook(webhook.id, webhook.token.as_deref().unwrap())
        .content("nope")
        .thread_id(Id::new(other))
        .wait()
        .await
        .unwrap_err();
    assert_eq!(api_error(&error).1, Some(10003));
}

#[tokio::test]
async fn a_webhook_deleted_behind_the_bots_back_is_unknown() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let webhook = relay_webhook(&client, f.channel).await;
    assert!(f.sim.delete_webhook(webhook.id.get()));
    let error = client
        .execute_webhook(webhook.id, webhook.token.as_deref().unwrap())
        .content("anyone?")
        .wait()
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (404, Some(10015)));
}

#[tokio::test]
async fn webhooks_can_be_listed_fetched_and_deleted() {
    let f = fixture().await;
    let client = http(&f.sim, &f.app.token);
    let webhook = relay_webhook(&client, f.channel).await;
    let listed = client
        .channel_webhooks(Id::new(f.channel))
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let fetched = client
        .webhook(webhook.id)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(fetched.name.as_deref(), Some("relay"));
    let by_token = client
        .webhook(webhook.id)
        .token(webhook.token.as_deref().unwrap())
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(by_token.id, webhook.id);
    client.delete_webhook(webhook.id).await.unwrap();
    assert!(f.sim.webhooks(f.channel).is_empty());
}

#[tokio::test]
async fn a_webhook_message_in_a_thread_is_edited_and_deleted_only_with_its_thread_id() {
    let f = fixture().await;
    let thread = f.sim.create_thread(f.channel, "log").unwrap();
    let client = http(&f.sim, &f.app.token);
    let webhook = relay_webhook(&client, f.channel).await;
    let token = webhook.token.as_deref().unwrap();
    let message = post_in_thread(&client, &webhook, thread, "in the thread").await;
    let without = client
        .update_webhook_message(webhook.id, token, message.id)
        .content(Some("edited"))
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&without).1,
        Some(10008),
        "the channel is searched"
    );
    client
        .update_webhook_message(webhook.id, token, message.id)
        .content(Some("edited"))
        .thread_id(Id::new(thread))
        .await
        .unwrap();
    assert_eq!(f.sim.message(message.id.get()).unwrap().content, "edited");
    let without = client
        .delete_webhook_message(webhook.id, token, message.id)
        .await
        .unwrap_err();
    assert_eq!(api_error(&without).1, Some(10008));
    client
        .delete_webhook_message(webhook.id, token, message.id)
        .thread_id(Id::new(thread))
        .await
        .unwrap();
    assert!(f.sim.message(message.id.get()).unwrap().deleted);
}

#[tokio::test]
async fn a_post_reopens_an_archived_thread_but_an_edit_does_not_and_a_lock_keeps_it_shut() {
    let f = fixture().await;
    let thread = f.sim.create_thread(f.channel, "log").unwrap();
    let client = http(&f.sim, &f.app.token);
    let webhook = relay_webhook(&client, f.channel).await;
    let token = webhook.token.as_deref().unwrap();
    let archived = |thread: u64| f.sim.channel(thread).unwrap().archived;
    f.sim.set_thread_state(thread, true, false).unwrap();
    let message = post_in_thread(&client, &webhook, thread, "wake up").await;
    assert!(!archived(thread), "the post reopened it");
    let shown = client
        .channel(Id::new(thread))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(shown.thread_metadata.map(|m| m.archived), Some(false));
    f.sim.set_thread_state(thread, true, false).unwrap();
    let error = client
        .update_webhook_message(webhook.id, token, message.id)
        .content(Some("changed"))
        .thread_id(Id::new(thread))
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (400, Some(50083)));
    assert!(archived(thread), "an edit reopens nothing");
    client
        .delete_webhook_message(webhook.id, token, message.id)
        .thread_id(Id::new(thread))
        .await
        .unwrap();

    f.sim.set_thread_state(thread, true, true).unwrap();
    let error = client
        .execute_webhook(webhook.id, token)
        .content("let me in")
        .thread_id(Id::new(thread))
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (400, Some(50083)));
    assert!(archived(thread), "a locked thread stays archived");
    let error = f
        .sim
        .post_message(
            thread,
            f.member,
            discord_sim::MessageDraft::text("me neither"),
        )
        .unwrap_err();
    assert!(error.to_string().contains("archived"), "{error}");
}

#[tokio::test]
async fn a_forum_takes_webhook_posts_only_into_its_posts() {
    let f = fixture().await;
    let forum = f.sim.create_forum(f.guild, "times").unwrap();
    let post = f
        .sim
        .create_forum_post(forum, f.member, "alice's times", "hello")
        .unwrap();
    let starter = f.sim.messages(post);
    assert_eq!(starter.len(), 1, "a post starts with its first message");
    assert_eq!(starter[0].author_id, f.member);
    let client = http(&f.sim, &f.app.token);
    let webhook = relay_webhook(&client, forum).await;
    let token = webhook.token.as_deref().unwrap();
    let error = client
        .execute_webhook(webhook.id, token)
        .content("where?")
        .await
        .unwrap_err();
    assert_eq!(api_error(&error), (400, Some(220001)));
    let message = post_in_thread(&client, &webhook, post, "in the post").await;
    assert_eq!(message.channel_id, Id::new(post));
    let shown = client
        .channel(Id::new(post))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(shown.parent_id, Some(Id::new(forum)));
}
