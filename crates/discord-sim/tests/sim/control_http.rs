//! The `/_sim` HTTP control API: the same world-building and member actions as the Rust handle.

use serde_json::{Value, json};
use twilight_gateway::Event;
use twilight_model::id::Id;

use crate::common::*;

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn id(value: &Value) -> u64 {
    value["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_world_can_be_built_and_driven_over_http() {
    install_crypto();
    let sim = discord_sim::DiscordSim::start_default().await.unwrap();
    let base = format!("{}/_sim", sim.api_url());
    let client = raw();
    use reqwest::Method;
    let (status, app) = call(
        &client,
        Method::POST,
        format!("{base}/applications"),
        Some(json!({ "name": "kakusan" })),
    )
    .await;
    assert_eq!(status, 200);
    let token = app["token"].as_str().unwrap().to_owned();
    let app_id = id(&app);
    let (_, user) = call(
        &client,
        Method::POST,
        format!("{base}/users"),
        Some(json!({ "username": "alice" })),
    )
    .await;
    let user = id(&user);
    let (_, guild) = call(
        &client,
        Method::POST,
        format!("{base}/guilds"),
        Some(json!({ "name": "alpha", "owner_id": user.to_string() })),
    )
    .await;
    let guild = id(&guild);
    let (_, channel) = call(
        &client,
        Method::POST,
        format!("{base}/guilds/{guild}/channels"),
        Some(json!({ "name": "times" })),
    )
    .await;
    let channel = id(&channel);
    let (status, _) = call(
        &client,
        Method::POST,
        format!("{base}/guilds/{guild}/bots"),
        Some(json!({ "application_id": app_id, "permissions": "8" })),
    )
    .await;
    assert_eq!(status, 200);

    let mut shard = ready_shard(&sim, &token, relay_intents()).await;
    let (status, posted) = call(
        &client,
        Method::POST,
        format!("{base}/channels/{channel}/messages"),
        Some(json!({ "user_id": user, "content": "over http" })),
    )
    .await;
    assert_eq!(status, 200);
    let message = next_matching(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.clone()),
        _ => None,
    })
    .await;
    assert_eq!(message.id, Id::new(id(&posted)));
    assert_eq!(message.content, "over http");

    // Languages: a guild's (GUILD_UPDATE follows) and a user's.
    for (path, locale) in [
        (format!("guilds/{guild}"), "ja"),
        (format!("users/{user}"), "ja"),
    ] {
        let (status, _) = call(
            &client,
            Method::PUT,
            format!("{base}/{path}/locale"),
            Some(json!({ "locale": locale })),
        )
        .await;
        assert_eq!(status, 200, "{path}");
    }
    let preferred = next_matching(&mut shard, |e| match e {
        Event::GuildUpdate(g) => Some(g.preferred_locale.clone()),
        _ => None,
    })
    .await;
    assert_eq!(preferred, "ja");

    let (_, list) = call(
        &client,
        Method::GET,
        format!("{base}/channels/{channel}/messages"),
        None,
    )
    .await;
    assert_eq!(list[0]["content"], "over http");
    assert_eq!(list[0]["author_id"], json!(user));

    let (status, _) = call(
        &client,
        Method::POST,
        format!("{base}/faults"),
        Some(
            json!({ "path": "/users/@me", "kind": "error", "status": 500, "code": 0, "times": 1 }),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let failed = http(&sim, &token).current_user().await.unwrap_err();
    assert_eq!(api_error(&failed).0, 500);
    let (_, calls) = call(&client, Method::GET, format!("{base}/calls"), None).await;
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == "/api/v10/users/@me" && c["status"] == 500)
    );
    let (_, stats) = call(&client, Method::GET, format!("{base}/stats"), None).await;
    assert_eq!(stats[0]["client"], format!("bot:{app_id}"));

    let (_, sessions) = call(
        &client,
        Method::POST,
        format!("{base}/gateway/{app_id}/reconnect"),
        None,
    )
    .await;
    assert_eq!(sessions["sessions"], 1);
    let (_, handshakes) = call(
        &client,
        Method::GET,
        format!("{base}/gateway/{app_id}/handshakes"),
        None,
    )
    .await;
    assert_eq!(handshakes[0]["kind"], "identify");
    // The live session is not closed, so there is nothing to expire.
    let (_, expired) = call(
        &client,
        Method::POST,
        format!("{base}/gateway/{app_id}/expire"),
        None,
    )
    .await;
    assert_eq!(expired["sessions"], 0);
    let (status, error) = call(
        &client,
        Method::POST,
        format!("{base}/guilds/1/channels"),
        Some(json!({ "name": "x" })),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(error["error"], "unknown guild");
}
