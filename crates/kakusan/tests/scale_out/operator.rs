//! The operator's side of scale-out: settings, `kakusan check`'s NATS line, dead letters.

use std::process::Stdio;

use bytes::Bytes;
use kakusan_bus::{Bus, BusConfig, Lane};
use kakusan_testkit::federation::{Federation, Scale, nats_url, string};
use kakusan_testkit::{PATIENCE, eventually};

use crate::{KAKUSAN, over_workers};

#[test]
fn gateway_and_worker_without_a_nats_url_name_it_and_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    for role in ["gateway", "worker"] {
        let output = KAKUSAN
            .command(&dir)
            .arg(role)
            .env("DISCORD_TOKEN", "token")
            .env(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            )
            .output()
            .unwrap();
        assert!(!output.status.success(), "{role}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: KAKUSAN_NATS_URL is not set"),
            "{stderr}"
        );
    }
    let output = KAKUSAN
        .command(&dir)
        .args(["gateway", "--gateway-id", "2", "--gateway-count", "2"])
        .env("DISCORD_TOKEN", "token")
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env("KAKUSAN_NATS_URL", "nats://127.0.0.1:4222")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--gateway-id"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn check_has_a_nats_line_when_nats_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let check = |url: &str| {
        let output = KAKUSAN
            .command(&dir)
            .arg("check")
            .env("DISCORD_TOKEN", "token")
            .env(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            )
            .env(
                "KAKUSAN_DISCORD_API",
                format!("http://127.0.0.1:{closed_port}"),
            )
            .env("KAKUSAN_NATS_URL", url)
            .env("KAKUSAN_NATS_STREAM", "KAKUSAN_CHECK_NONE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        stdout
            .lines()
            .find(|line| line.contains(" nats: "))
            .unwrap_or_else(|| panic!("no nats line in:\n{stdout}"))
            .to_owned()
    };
    let reached = check(&nats_url());
    assert!(
        reached.starts_with("ok   nats: reached") && reached.contains("not created yet"),
        "{reached}"
    );
    let refused = check(&format!("nats://127.0.0.1:{closed_port}"));
    assert!(refused.starts_with("FAIL nats: "), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_event_goes_to_the_dead_letters_and_its_lane_goes_on() {
    let federation = Federation::peered_scaled(KAKUSAN, false, Scale::workers(2)).await;
    let alpha = &federation.alpha;
    // Something that is no MESSAGE_CREATE, in the lane of Hanako's /heres.
    let bus = Bus::connect(&BusConfig {
        url: nats_url(),
        stream: alpha.stream.clone(),
        group: "main".to_owned(),
        application: alpha.app.id,
    })
    .await
    .unwrap();
    bus.publish(
        0,
        "MESSAGE_CREATE",
        Lane::of_key(federation.hanako),
        Bytes::from_static(b"{\"not\":\"a message\"}"),
    )
    .await
    .unwrap();
    eventually(PATIENCE, "the event to be given up", || async {
        let dead = over_workers(alpha, "kakusan_worker_dead_letters_total").await;
        (dead == 1.0).then_some(()).ok_or(dead)
    })
    .await;
    // The lane was not held up: Hanako's /here goes through it.
    let reply = federation
        .here(vec![("message", string("after the bad one"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");

    // The operator sees it, and can hand it back.
    let (ok, listed) = dlq(alpha.command("dlq", 0), &["list"]).await;
    assert!(ok, "{listed}");
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let line = listed.lines().next().unwrap();
    assert!(line.contains("message.create"), "{line}");
    assert!(line.contains("unreadable event"), "{line}");
    let number = line.split('\t').next().unwrap().to_owned();
    let (ok, replayed) = dlq(alpha.command("dlq", 0), &["replay", &number]).await;
    assert!(ok, "{replayed}");
    // Still unreadable: back among the dead letters, under a new number.
    eventually(
        PATIENCE,
        "the replayed event to be given up again",
        || async {
            let dead = over_workers(alpha, "kakusan_worker_dead_letters_total").await;
            (dead == 2.0).then_some(()).ok_or(dead)
        },
    )
    .await;
    let (_, listed) = dlq(alpha.command("dlq", 0), &["list"]).await;
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(!listed.starts_with(&format!("{number}\t")), "{listed}");
    let (ok, _) = dlq(alpha.command("dlq", 0), &["replay", &number]).await;
    assert!(!ok, "a replayed letter is gone");
}

/// Runs `kakusan dlq ARGS`; whether it succeeded, and what it printed.
async fn dlq(mut command: std::process::Command, args: &[&str]) -> (bool, String) {
    command.args(args).stdout(Stdio::piped());
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}
