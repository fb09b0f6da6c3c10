//! No token in the log: kakusan at `KAKUSAN_LOG=debug`, in both formats, waits out 429s on
//! webhook calls and answers a slash command, and its standard error holds none of the webhook
//! tokens, interaction tokens or the bot token the simulator issued.

use std::process::Stdio;
use std::time::{Duration, Instant};

use discord_sim::{CommandInvocation, DiscordSim, Fault, FaultAction};
use kakusan_storage::PgPool;

use kakusan_testkit::delivery::World;
use kakusan_testkit::process::{sigterm, stderr_lines, wait_for_exit};
use kakusan_testkit::{TestDatabase, eventually};

use crate::{KAKUSAN, delivered, fan_out};

const DESTINATIONS: usize = 2;
/// The first webhook calls are answered 429; twilight-http logs each at INFO, inside a span
/// whose `path` holds the webhook's token.
const FORCED_429S: u32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pretty_log_at_debug_holds_no_token() {
    let lines = no_token_in_the_log("pretty").await;
    // Standard error is a pipe here, as in a container's log: no colour codes in it.
    assert!(
        lines.iter().all(|line| !line.contains('\u{1b}')),
        "colour codes in a piped log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_log_at_debug_holds_no_token() {
    let lines = no_token_in_the_log("json").await;
    // Redaction works on the formatted line, so it must leave every line valid JSON.
    for line in &lines {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}

/// Runs the scenario with `KAKUSAN_LOG_FORMAT=format`, checks the log and returns its lines.
async fn no_token_in_the_log(format: &str) -> Vec<String> {
    let started = Instant::now();
    let database = TestDatabase::create().await;
    let pool = PgPool::connect(&database.url).await.unwrap();
    kakusan_storage::migrate(&pool).await.unwrap();
    let sim = DiscordSim::start_default().await.unwrap();
    let world = World::build(&pool, &sim, DESTINATIONS).await;
    sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: "/webhooks/*/*".into(),
        action: FaultAction::RateLimit {
            retry_after: Duration::from_millis(100),
            scope: "user".into(),
        },
        times: Some(FORCED_429S),
    });
    // A member of the destinations' guild, to run a command there; the harness keeps that
    // guild's id and its application's to itself, but the webhooks name both.
    let webhook = sim.webhooks(world.destinations[0].channel_id).remove(0);
    let application_id = webhook.application_id.expect("the bot created the webhook");
    let member = sim.create_user("hanako");
    sim.add_member(webhook.guild_id, member, &[]).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut child = KAKUSAN
        .command(&dir)
        .arg("run")
        .env("DISCORD_TOKEN", &world.token)
        .env("DATABASE_URL", &database.url)
        .env("KAKUSAN_DISCORD_API", sim.api_url())
        .env("KAKUSAN_DISCORD_GATEWAY", sim.gateway_url())
        .env("KAKUSAN_LOG", "debug")
        .env("KAKUSAN_LOG_FORMAT", format)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let receiver = stderr_lines(&mut child);

    fan_out(&pool, &world.destinations, 1, None).await;
    eventually(
        Duration::from_secs(15),
        "both relays delivered",
        async || delivered(&sim, &world.destinations) == DESTINATIONS,
    )
    .await;
    sim.wait_for_sessions(application_id, 1, Duration::from_secs(15))
        .await
        .unwrap();
    let invocation = CommandInvocation::new(
        application_id,
        world.destinations[0].channel_id,
        member,
        "sharelist",
    );
    let interaction = sim.invoke_command(&invocation).unwrap();
    sim.wait_for_reply(&interaction, Duration::from_secs(15))
        .await
        .unwrap();

    sigterm(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    // The reading thread ends at the end of the stream, which the exit closed.
    let lines: Vec<String> = receiver.iter().collect();
    let log = lines.join("\n");
    assert!(
        lines.len() > 20,
        "a debug log has more to say than {} lines",
        lines.len()
    );

    let mut secrets = vec![("the bot token", world.token.clone())];
    for destination in &world.destinations {
        for webhook in sim.webhooks(destination.channel_id) {
            secrets.push(("a webhook token", webhook.token));
        }
    }
    secrets.push(("the interaction token", interaction.token.clone()));
    for (what, secret) in &secrets {
        let leaks: Vec<&String> = lines
            .iter()
            .filter(|line| line.contains(secret.as_str()))
            .collect();
        assert!(
            leaks.is_empty(),
            "{what} is in the {format} log: {leaks:#?}"
        );
    }

    // The calls that carried the tokens were logged, with the token replaced: the 429s at
    // INFO and the interaction's callback at DEBUG.
    let rate_limited: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("rate limited; retrying"))
        .collect();
    assert_eq!(rate_limited.len(), FORCED_429S as usize, "{log}");
    for line in rate_limited {
        assert!(
            world.destinations.iter().any(|destination| line
                .contains(&format!("webhooks/{}/<redacted>", destination.webhook_id))),
            "the 429 names its webhook without the token: {line}"
        );
    }
    let callback = format!("interactions/{}/<redacted>/callback", interaction.id);
    assert!(
        log.contains(&callback),
        "{callback} is not in the log:\n{log}"
    );
    println!(
        "{format} log: {} lines, no token among them; took {:?}",
        lines.len(),
        started.elapsed()
    );
    sim.shutdown().await;
    lines
}
