//! Error codes and validation rules, with hand-made requests: each rule Discord enforces on
//! the routes the simulator serves.

use serde_json::{Value, json};

use discord_sim::{ClientId, MessageDraft, Overwrite};

use crate::common::*;

struct Api {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Api {
    fn new(f: &Fixture) -> Self {
        Self {
            base: format!("{}/api/v10", f.sim.api_url()),
            token: f.app.token.clone(),
            client: raw(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        auth: bool,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if auth {
            request = request.header("authorization", format!("Bot {}", self.token));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn bot(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send(method, path, body, true).await
    }

    async fn webhook(&self, f: &Fixture) -> (String, String) {
        let (status, body) = self
            .bot(
                reqwest::Method::POST,
                &format!("/channels/{}/webhooks", f.channel),
                Some(json!({ "name": "relay" })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        (
            body["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }
}

use reqwest::Method;

#[tokio::test]
async fn bot_routes_need_a_valid_bot_token() {
    let f = fixture().await;
    let api = Api::new(&f);
    let (status, body) = api.send(Method::GET, "/users/@me", None, false).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({ "message": "401: Unauthorized", "code": 0 }));
    let wrong = Api {
        token: "nope".into(),
        ..Api::new(&f)
    };
    let (status, _) = wrong.bot(Method::GET, "/users/@me", None).await;
    assert_eq!(status, 401);
    assert_eq!(f.sim.client_stats(ClientId::InvalidToken).invalid, 1);
    assert_eq!(f.sim.client_stats(ClientId::Anonymous).invalid, 1);
    let (status, body) = api.send(Method::GET, "/gateway", None, false).await;
    assert_eq!(status, 200, "GET /gateway needs no token");
    assert!(body["url"].as_str().unwrap().starts_with("ws://"));
}

#[tokio::test]
async fn unknown_webhook_and_wrong_token() {
    let f = fixture().await;
    let api = Api::new(&f);
    let (id, _) = api.webhook(&f).await;
    let (status, body) = api
        .send(
            Method::POST,
            "/webhooks/1234567890123/abc",
            Some(json!({ "content": "x" })),
            false,
        )
        .await;
    assert_eq!((status, body["code"].clone()), (404, json!(10015)));
    assert_eq!(body["message"], "Unknown Webhook");
    let (status, body) = api
        .send(
            Method::POST,
            &format!("/webhooks/{id}/wrong"),
            Some(json!({ "content": "x" })),
            false,
        )
        .await;
    assert_eq!((status, body["code"].clone()), (401, json!(50027)));
    assert_eq!(body["message"], "Invalid Webhook Token");
}

#[tokio::test]
async fn webhook_execution_validates_content_and_username() {
    let f = fixture().await;
    // Every request counts against the webhook's bucket, so widen it for this many calls.
    f.sim.set_rate_limits(discord_sim::RateLimitConfig {
        webhook: discord_sim::Limit::new(100, std::time::Duration::from_secs(2)),
        ..discord_sim::RateLimitConfig::default()
    });
    let api = Api::new(&f);
    let (id, token) = api.webhook(&f).await;
    let path = format!("/webhooks/{id}/{token}?wait=true");
    let bad_json = raw()
        .post(format!("{}{path}", api.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    assert_eq!(bad_json.json::<Value>().await.unwrap()["code"], 50109);
    let cases = [
        (
            json!({ "content": "x".repeat(2001) }),
            "content",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({ "content": "hi", "username": "my discord bot" }),
            "username",
            "USERNAME_INVALID_CONTAINS",
        ),
        (
            json!({ "content": "hi", "username": "Clyde" }),
            "username",
            "USERNAME_INVALID_CONTAINS",
        ),
        (
            json!({ "content": "hi", "username": "" }),
            "username",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!({ "content": "hi", "username": "u".repeat(81) }),
            "username",
            "BASE_TYPE_BAD_LENGTH",
        ),
    ];
    for (body, field, code) in cases {
        let (status, answer) = api
            .send(Method::POST, &path, Some(body.clone()), false)
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["code"], 50035);
        assert_eq!(answer["message"], "Invalid Form Body");
        assert_eq!(
            answer["errors"][field]["_errors"][0]["code"], code,
            "{answer}"
        );
    }
    let (status, answer) = api
        .send(
            Method::POST,
            &path,
            Some(json!({ "content": "x".repeat(2000), "username": "u".repeat(80) })),
            false,
        )
        .await;
    assert_eq!(
        status, 200,
        "2,000 characters and an 80-character name are allowed: {answer}"
    );
    for empty in [
        json!({}),
        json!({ "content": "" }),
        json!({ "content": "", "embeds": [] }),
    ] {
        let (status, answer) = api.send(Method::POST, &path, Some(empty), false).await;
        assert_eq!((status, answer["code"].clone()), (400, json!(50006)));
        assert_eq!(answer["message"], "Cannot send an empty message");
    }
    let (status, answer) = api.send(Method::POST, &path, Some(json!({ "content": "ok", "allowed_mentions": { "parse": ["users"], "users": ["1"] } })), false).await;
    assert_eq!((status, answer["code"].clone()), (400, json!(50035)));
}

#[tokio::test]
async fn webhook_creation_needs_manage_webhooks_and_stops_at_fifteen() {
    let f = fixture_with(discord_sim::VIEW_CHANNEL | discord_sim::SEND_MESSAGES).await;
    let api = Api::new(&f);
    let create = format!("/channels/{}/webhooks", f.channel);
    let (status, body) = api
        .bot(Method::POST, &create, Some(json!({ "name": "relay" })))
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!(50013)));
    // Allowing MANAGE_WEBHOOKS on this channel for the bot's member is enough.
    f.sim
        .set_overwrite(
            f.channel,
            Overwrite {
                id: f.app.bot_user_id,
                kind: discord_sim::OVERWRITE_MEMBER,
                allow: discord_sim::MANAGE_WEBHOOKS,
                deny: 0,
            },
        )
        .unwrap();
    for i in 0..15 {
        let (status, body) = api
            .bot(
                Method::POST,
                &create,
                Some(json!({ "name": format!("relay {i}") })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = api
        .bot(
            Method::POST,
            &create,
            Some(json!({ "name": "one too many" })),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (400, json!(30007)));
    let (status, body) = api
        .bot(
            Method::POST,
            &create,
            Some(json!({ "name": "Discord relay" })),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)));
    let (status, list) = api.bot(Method::GET, &create, None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 15);
    // Denying VIEW_CHANNEL hides the channel altogether.
    f.sim
        .set_overwrite(
            f.channel,
            Overwrite {
                id: f.app.bot_user_id,
                kind: discord_sim::OVERWRITE_MEMBER,
                allow: 0,
                deny: discord_sim::VIEW_CHANNEL,
            },
        )
        .unwrap();
    let (status, body) = api.bot(Method::GET, &create, None).await;
    assert_eq!((status, body["code"].clone()), (403, json!(50001)));
}

#[tokio::test]
async fn command_validation_reports_each_rule() {
    let f = fixture().await;
    let api = Api::new(&f);
    let path = format!("/applications/{}/commands", f.app.id);
    let option = |name: &str| json!({ "type": 3, "name": name, "description": "d" });
    let cases = [
        (
            json!([{ "name": "Setup", "description": "d" }]),
            "0.name",
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (
            json!([{ "name": "has space", "description": "d" }]),
            "0.name",
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (
            json!([{ "name": "x".repeat(33), "description": "d" }]),
            "0.name",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!([{ "name": "ok", "description": "" }]),
            "0.description",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!([{ "name": "ok", "description": "d".repeat(101) }]),
            "0.description",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!([{ "name": "ok" }]),
            "0.description",
            "BASE_TYPE_REQUIRED",
        ),
        (
            json!([{ "name": "ok", "description": "d" }, { "name": "ok", "description": "d" }]),
            "1.name",
            "APPLICATION_COMMANDS_DUPLICATE_NAME",
        ),
        (
            json!([{ "name": "ok", "description": "d", "options": [option("a"), { "type": 3, "name": "b", "description": "d", "required": true }] }]),
            "0.options.1.required",
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
        ),
        (
            json!([{ "name": "ok", "description": "d", "options": [option("Bad")] }]),
            "0.options.0.name",
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (
            json!([{ "name": "ok", "description": "d", "options": [option("a"), option("a")] }]),
            "0.options.1.name",
            "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
        ),
        (
            json!([{ "name": "ok", "description": "d", "options": (0..26).map(|i| option(&format!("o{i}"))).collect::<Vec<_>>() }]),
            "0.options",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!([{ "name": "ok", "description": "d", "options": [{ "type": 12, "name": "a", "description": "d" }] }]),
            "0.options.0.type",
            "BASE_TYPE_CHOICES",
        ),
        (
            json!([{ "name": "ok", "description": "d", "options": [{ "type": 5, "name": "a", "description": "d", "choices": [{ "name": "x", "value": "x" }] }] }]),
            "0.options.0.choices",
            "APPLICATION_COMMAND_OPTION_CHOICES_TYPE_INVALID",
        ),
        (
            json!([{ "name": "ok", "description": "d", "options": [{ "type": 3, "name": "a", "description": "d", "autocomplete": true, "choices": [{ "name": "x", "value": "x" }] }] }]),
            "0.options.0.autocomplete",
            "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
        ),
        (
            json!([{ "name": "ok", "description": "d", "description_localizations": { "xx": "d" } }]),
            "0.description_localizations.xx",
            "LOCALE_INVALID",
        ),
        (
            json!([{ "name": "ok", "description": "d", "name_localizations": { "ja": "設 定" } }]),
            "0.name_localizations.ja",
            "APPLICATION_COMMAND_INVALID_NAME",
        ),
        (
            json!([{ "name": "ok", "description": "d", "options": [{ "type": 1, "name": "s", "description": "d", "options": [{ "type": 1, "name": "t", "description": "d" }] }] }]),
            "0.options.0.options",
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
        ),
    ];
    for (body, path_in_errors, code) in cases {
        let (status, answer) = api.bot(Method::PUT, &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["code"], 50035);
        let mut node = &answer["errors"];
        for part in path_in_errors.split('.') {
            node = &node[part];
        }
        assert_eq!(node["_errors"][0]["code"], code, "{body} -> {answer}");
    }
    let (status, _) = api
        .bot(Method::PUT, &path, Some(json!([{ "name": "設定-ok_1", "description": "日本語", "name_localizations": { "ja": "設定" } }])))
        .await;
    assert_eq!(status, 200, "non-Latin lower-case names are valid");
    let (status, body) = api
        .bot(Method::PUT, "/applications/1/commands", Some(json!([])))
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!(50001)));
    let (status, body) = api.bot(Method::PUT, &path, None).await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)));
}

#[tokio::test]
async fn messages_guilds_and_members_errors() {
    let f = fixture_with(discord_sim::VIEW_CHANNEL | 1 << 16).await;
    f.sim.set_everyone_permissions(f.guild, 0).unwrap();
    let api = Api::new(&f);
    let messages = format!("/channels/{}/messages", f.channel);
    let (status, body) = api
        .bot(Method::POST, &messages, Some(json!({ "content": "hi" })))
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (403, json!(50013)),
        "no SEND_MESSAGES"
    );
    let theirs = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("alice's"))
        .unwrap();
    let (status, body) = api
        .bot(
            Method::PATCH,
            &format!("{messages}/{theirs}"),
            Some(json!({ "content": "edited" })),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!(50005)));
    let (status, body) = api
        .bot(Method::DELETE, &format!("{messages}/{theirs}"), None)
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (403, json!(50013)),
        "no MANAGE_MESSAGES"
    );
    let (status, body) = api.bot(Method::GET, &format!("{messages}/1"), None).await;
    assert_eq!((status, body["code"].clone()), (404, json!(10008)));
    let (status, body) = api.bot(Method::GET, "/channels/1", None).await;
    assert_eq!((status, body["code"].clone()), (404, json!(10003)));
    let (status, body) = api.bot(Method::GET, "/guilds/1", None).await;
    assert_eq!((status, body["code"].clone()), (404, json!(10004)));
    let owner = f.sim.create_user("dave");
    let foreign = f.sim.create_guild("delta", owner).unwrap();
    let (status, body) = api
        .bot(Method::GET, &format!("/guilds/{foreign}"), None)
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!(50001)));
    let stranger = f.sim.create_user("eve");
    let (status, body) = api
        .bot(
            Method::GET,
            &format!("/guilds/{}/members/{stranger}", f.guild),
            None,
        )
        .await;
    assert_eq!((status, body["code"].clone()), (404, json!(10007)));
}

#[tokio::test]
async fn message_content_is_hidden_over_rest_without_the_intent() {
    let f = fixture().await;
    let app = f.sim.create_application_with("plain", false);
    f.sim
        .add_bot(f.guild, app.id, discord_sim::ADMINISTRATOR)
        .unwrap();
    let id = f
        .sim
        .post_message(f.channel, f.member, MessageDraft::text("private words"))
        .unwrap();
    let api = Api {
        token: app.token.clone(),
        ..Api::new(&f)
    };
    let (status, body) = api
        .bot(
            Method::GET,
            &format!("/channels/{}/messages/{id}", f.channel),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["content"], "");
    let full = Api::new(&f);
    let (_, body) = full
        .bot(
            Method::GET,
            &format!("/channels/{}/messages/{id}", f.channel),
            None,
        )
        .await;
    assert_eq!(body["content"], "private words");
}

#[tokio::test]
async fn interaction_callbacks_reject_wrong_types_and_unknown_interactions() {
    let f = fixture().await;
    register(
        &f,
        json!([{ "type": 1, "name": "card", "description": "Show the card", "version": "1" }]),
    )
    .await;
    let reference = f
        .sim
        .invoke_command(&discord_sim::CommandInvocation::new(
            f.app.id, f.channel, f.member, "card",
        ))
        .unwrap();
    let api = Api::new(&f);
    let callback = format!(
        "/interactions/{}/{}/callback",
        reference.id, reference.token
    );
    let (status, body) = api
        .send(
            Method::POST,
            &callback,
            Some(json!({ "type": 8, "data": { "choices": [] } })),
            false,
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!(50035)),
        "autocomplete results only answer autocomplete"
    );
    let (status, body) = api
        .send(
            Method::POST,
            &callback,
            Some(json!({ "type": 4, "data": { "content": "" } })),
            false,
        )
        .await;
    assert_eq!((status, body["code"].clone()), (400, json!(50006)));
    let wrong = format!("/interactions/{}/not-the-token/callback", reference.id);
    let (status, body) = api
        .send(Method::POST, &wrong, Some(json!({ "type": 5 })), false)
        .await;
    assert_eq!((status, body["code"].clone()), (404, json!(10062)));
    let (status, body) = api
        .send(
            Method::POST,
            &format!("{callback}?with_response=true"),
            Some(json!({ "type": 4, "data": { "content": "card" } })),
            false,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["resource"]["message"]["content"], "card");
    let followup_path = format!("/webhooks/{}/{}", f.app.id, reference.token);
    let (status, body) = api
        .send(
            Method::POST,
            &followup_path,
            Some(json!({ "content": "more" })),
            false,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .send(
            Method::POST,
            &format!("/webhooks/{}/wrong-token", f.app.id),
            Some(json!({ "content": "x" })),
            false,
        )
        .await;
    assert_eq!((status, body["code"].clone()), (401, json!(50027)));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_discord_and_are_recorded() {
    let f = fixture().await;
    let api = Api::new(&f);
    let (status, body) = api.bot(Method::GET, "/no/such/route", None).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({ "message": "404: Not Found", "code": 0 }));
    let (status, body) = api.bot(Method::POST, "/users/@me", None).await;
    assert_eq!(status, 405);
    assert_eq!(
        body,
        json!({ "message": "405: Method Not Allowed", "code": 0 })
    );
    let calls = f.sim.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.path == "/api/v10/no/such/route" && c.status == 404)
    );
    assert!(calls.iter().any(|c| c.method == "POST" && c.status == 405));
}

#[tokio::test]
async fn embeds_components_and_files_are_validated() {
    let f = fixture().await;
    let api = Api::new(&f);
    let path = format!("/channels/{}/messages", f.channel);
    let button = |id: &str| json!({ "type": 2, "style": 1, "label": "Go", "custom_id": id });
    let cases = [
        (
            json!({ "embeds": [{ "title": "t".repeat(257) }] }),
            "embeds.0.title",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({ "embeds": [{ "description": "d".repeat(4097) }] }),
            "embeds.0.description",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({ "embeds": [{ "fields": [{ "name": "n", "value": "" }] }] }),
            "embeds.0.fields.0.value",
            "BASE_TYPE_REQUIRED",
        ),
        (
            json!({ "embeds": (0..11).map(|_| json!({ "title": "x" })).collect::<Vec<_>>() }),
            "embeds",
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            json!({ "embeds": [{ "description": "d".repeat(4000) }, { "description": "d".repeat(2001) }] }),
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
        (
            json!({ "content": "x", "components": [button("a")] }),
            "components.0.type",
            "UNION_TYPE_CHOICES",
        ),
        (
            json!({ "content": "x", "components": [{ "type": 1, "components": [button("a"), button("a")] }] }),
            "components.0.components.1.custom_id",
            "COMPONENT_CUSTOM_ID_DUPLICATED",
        ),
        (
            json!({ "content": "x", "components": [{ "type": 1, "components": (0..6).map(|i| button(&format!("b{i}"))).collect::<Vec<_>>() }] }),
            "components.0.components",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!({ "content": "x", "components": [{ "type": 1, "components": [{ "type": 2, "style": 5, "label": "Open" }] }] }),
            "components.0.components.0.url",
            "BASE_TYPE_REQUIRED",
        ),
        (
            json!({ "content": "x", "components": [{ "type": 1, "components": [{ "type": 2, "style": 1, "label": "No id" }] }] }),
            "components.0.components.0.custom_id",
            "BASE_TYPE_REQUIRED",
        ),
        (
            json!({ "content": "x", "components": [{ "type": 1, "components": [button(&"c".repeat(101))] }] }),
            "components.0.components.0.custom_id",
            "BASE_TYPE_BAD_LENGTH",
        ),
    ];
    for (body, field, code) in cases {
        let (status, answer) = api.bot(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        let mut node = &answer["errors"];
        for part in field.split('.') {
            node = &node[part];
        }
        assert_eq!(node["_errors"][0]["code"], code, "{answer}");
    }
    let (status, _) = api
        .bot(Method::POST, &path, Some(json!({ "content": "ok", "components": [{ "type": 1, "components": [button("cancel:1"), { "type": 2, "style": 5, "label": "Open", "url": "https://example.org" }] }] })))
        .await;
    assert_eq!(status, 200);
    let mut form = reqwest::multipart::Form::new().text("payload_json", r#"{"content":"many"}"#);
    for i in 0..11 {
        form = form.part(
            format!("files[{i}]"),
            reqwest::multipart::Part::bytes(vec![1]).file_name(format!("f{i}.bin")),
        );
    }
    let response = raw()
        .post(format!("{}{path}", api.base))
        .header("authorization", format!("Bot {}", f.app.token))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["errors"]["files"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
}
