//! Rate limits: headers on limited routes, 429 bodies and scopes, per-client counters, and
//! twilight-http surviving a 429 with one retry.

use std::time::Duration;

use discord_sim::{ClientId, Fault, FaultAction, Limit, RateLimitConfig};
use serde_json::{Value, json};
use twilight_model::id::Id;

use crate::common::*;

async fn webhook(f: &Fixture) -> (u64, String) {
    let client = http(&f.sim, &f.app.token);
    let hook = client
        .create_webhook(Id::new(f.channel), "relay")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    (hook.id.get(), hook.token.unwrap())
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn webhook_responses_carry_bucket_headers_and_the_sixth_call_is_limited() {
    let f = fixture().await;
    let (id, token) = webhook(&f).await;
    let url = format!("{}/api/v10/webhooks/{id}/{token}", f.sim.api_url());
    let client = raw();
    let mut buckets = Vec::new();
    for i in 0..5u32 {
        let response = client
            .post(&url)
            .json(&json!({ "content": format!("n{i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(header(&response, "x-ratelimit-limit"), "5");
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            (4 - i).to_string()
        );
        let reset_after: f64 = header(&response, "x-ratelimit-reset-after")
            .parse()
            .unwrap();
        assert!(reset_after > 0.0 && reset_after <= 2.0);
        let reset: f64 = header(&response, "x-ratelimit-reset").parse().unwrap();
        assert!(reset > 1.6e9);
        buckets.push(header(&response, "x-ratelimit-bucket").to_owned());
        assert!(response.headers().get("x-ratelimit-scope").is_none());
    }
    assert!(buckets.windows(2).all(|w| w[0] == w[1]));
    let limited = client
        .post(&url)
        .json(&json!({ "content": "n5" }))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "x-ratelimit-scope"), "user");
    assert_eq!(header(&limited, "x-ratelimit-remaining"), "0");
    let retry_header: u64 = header(&limited, "retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry_header));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    let retry_after = body["retry_after"].as_f64().unwrap();
    assert!(retry_after > 0.0 && retry_after <= 2.0);
    let stats = f.sim.client_stats(ClientId::Anonymous);
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.invalid, 1);
    assert_eq!(
        f.sim.messages(f.channel).len(),
        5,
        "a limited call posts nothing"
    );
}

#[tokio::test]
async fn the_global_limit_answers_with_global_scope() {
    let f = fixture().await;
    f.sim.set_rate_limits(RateLimitConfig {
        global: Limit::new(3, Duration::from_secs(30)),
        ..RateLimitConfig::default()
    });
    let client = raw();
    let url = format!("{}/api/v10/users/@me", f.sim.api_url());
    for _ in 0..3 {
        let ok = client
            .get(&url)
            .header("authorization", format!("Bot {}", f.app.token))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().get("x-ratelimit-bucket").is_some());
    }
    let limited = client
        .get(&url)
        .header("authorization", format!("Bot {}", f.app.token))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "x-ratelimit-scope"), "global");
    assert_eq!(header(&limited, "x-ratelimit-global"), "true");
    assert!(limited.headers().get("retry-after").is_some());
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["global"], true);
    let stats = f.sim.client_stats(ClientId::Bot(f.app.id));
    assert_eq!(stats.rate_limited, 1);
    // Webhook and interaction routes are not bound to the bot's global limit.
    let other = f.sim.create_application("other");
    let other_ok = client
        .get(&url)
        .header("authorization", format!("Bot {}", other.token))
        .send()
        .await
        .unwrap();
    assert_eq!(other_ok.status(), 200, "the global limit is per bot token");
}

#[tokio::test]
async fn twilight_waits_out_a_real_bucket_429_and_retries_once() {
    let f = fixture().await;
    f.sim.set_rate_limits(RateLimitConfig {
        webhook: Limit::new(1, Duration::from_millis(300)),
        ..RateLimitConfig::default()
    });
    let (id, token) = webhook(&f).await;
    let client = http(&f.sim, &f.app.token);
    for content in ["first", "second"] {
        let message = client
            .execute_webhook(Id::new(id), &token)
            .content(content)
            .wait()
            .await
            .unwrap()
            .model()
            .await
            .unwrap();
        assert_eq!(message.content, content);
    }
    let statuses: Vec<u16> = f
        .sim
        .calls()
        .iter()
        .filter(|c| c.path.contains(&token))
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, vec![200, 429, 200]);
}

#[tokio::test]
async fn a_forced_429_is_retried_once_by_twilight() {
    let f = fixture().await;
    let (id, token) = webhook(&f).await;
    f.sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: "/webhooks/*/*".into(),
        action: FaultAction::RateLimit {
            retry_after: Duration::from_millis(100),
            scope: "user".into(),
        },
        times: Some(1),
    });
    let client = http(&f.sim, &f.app.token);
    let message = client
        .execute_webhook(Id::new(id), &token)
        .content("despite the limit")
        .wait()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(message.content, "despite the limit");
    let calls: Vec<(u16, Option<u32>)> = f
        .sim
        .calls()
        .iter()
        .filter(|c| c.path.contains(&token))
        .map(|c| (c.status, c.error_code))
        .collect();
    assert_eq!(calls, vec![(429, Some(0)), (200, None)]);
    assert_eq!(f.sim.client_stats(ClientId::Anonymous).rate_limited, 1);
    assert_eq!(
        f.sim.messages(f.channel).len(),
        1,
        "exactly one message despite the retry"
    );
}

#[tokio::test]
async fn injected_errors_and_latency_apply_to_matching_routes() {
    let f = fixture().await;
    f.sim.inject_fault(Fault {
        method: None,
        path: "/users/@me".into(),
        action: FaultAction::Error {
            status: 502,
            code: 0,
            message: "Bad Gateway".into(),
        },
        times: Some(1),
    });
    f.sim.inject_fault(Fault {
        method: Some("GET".into()),
        path: "/gateway/bot".into(),
        action: FaultAction::Latency(Duration::from_millis(200)),
        times: None,
    });
    let client = raw();
    let auth = format!("Bot {}", f.app.token);
    let me = format!("{}/api/v10/users/@me", f.sim.api_url());
    let failed = client
        .get(&me)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 502);
    let ok = client
        .get(&me)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "the fault applied once");
    let started = std::time::Instant::now();
    let slow = client
        .get(format!("{}/api/v10/gateway/bot", f.sim.api_url()))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn route_overrides_limit_one_route_per_major_parameter() {
    let f = fixture().await;
    f.sim.set_rate_limits(RateLimitConfig {
        overrides: vec![discord_sim::RouteLimit {
            method: Some("POST".into()),
            path: "/channels/{channel_id}/messages".into(),
            limit: Limit::new(2, Duration::from_secs(30)),
        }],
        ..RateLimitConfig::default()
    });
    let other_channel = f.sim.create_channel(f.guild, "other").unwrap();
    let client = raw();
    let auth = format!("Bot {}", f.app.token);
    let post = |channel: u64| {
        client
            .post(format!(
                "{}/api/v10/channels/{channel}/messages",
                f.sim.api_url()
            ))
            .header("authorization", &auth)
            .json(&json!({ "content": "hi" }))
            .send()
    };
    for _ in 0..2 {
        let ok = post(f.channel).await.unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(header(&ok, "x-ratelimit-limit"), "2");
    }
    let limited = post(f.channel).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "x-ratelimit-scope"), "user");
    assert_eq!(
        post(other_channel).await.unwrap().status(),
        200,
        "another channel is another bucket"
    );
    let read = client
        .get(format!(
            "{}/api/v10/channels/{}/messages",
            f.sim.api_url(),
            f.channel
        ))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        header(&read, "x-ratelimit-limit"),
        "50",
        "other routes keep the default"
    );
}
