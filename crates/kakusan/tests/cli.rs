//! The `kakusan` binary as an operator meets it: start-up errors, migrations, waiting for the
//! database, and shutdown on SIGTERM.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use kakusan_testkit::TestDatabase;
use kakusan_testkit::process::{Binary, sigterm, stderr_lines, wait_for_exit, wait_for_lines};

/// The binary under test; Cargo names its path only to this package's own tests.
const KAKUSAN: Binary = Binary::new(env!("CARGO_BIN_EXE_kakusan"));

#[test]
fn run_without_a_token_names_it_and_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = KAKUSAN
        .command(&dir)
        .arg("run")
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DISCORD_TOKEN"), "{stderr}");
}

#[test]
fn each_malformed_setting_stops_start_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("DATABASE_URL", "mysql://db/kakusan"),
        ("KAKUSAN_LOG_FORMAT", "xml"),
        ("KAKUSAN_COMMANDS_GUILD", "my-guild"),
        ("KAKUSAN_DISCORD_API", "not a url"),
    ] {
        let output = KAKUSAN
            .command(&dir)
            .env("DISCORD_TOKEN", "token")
            .env(
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            )
            .env(name, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with(&format!("error: {name} is malformed")),
            "{stderr}"
        );
    }
}

#[test]
fn a_broken_env_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "DISCORD_TOKEN='unterminated\n").unwrap();
    let output = KAKUSAN.command(&dir).arg("migrate").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(".env"), "{stderr}");
}

#[tokio::test]
async fn migrate_creates_the_schema_and_a_second_run_changes_nothing() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    // The URL comes from a .env file, as an operator would write it.
    std::fs::write(
        dir.path().join(".env"),
        format!("DATABASE_URL={}\n", database.url),
    )
    .unwrap();

    let schema = async || -> Vec<(String, String, String)> {
        let mut connection = database.connect().await;
        sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text
             FROM information_schema.columns WHERE table_schema = 'public'
             ORDER BY table_name, column_name",
        )
        .fetch_all(&mut connection)
        .await
        .unwrap()
    };
    assert!(schema().await.is_empty());

    let first = KAKUSAN.command(&dir).arg("migrate").output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let after_first = schema().await;
    let tables: std::collections::BTreeSet<&str> = after_first
        .iter()
        .map(|(table, _, _)| table.as_str())
        .collect();
    for table in [
        "servers",
        "peers",
        "times",
        "destinations",
        "outbox_jobs",
        "copies",
        "seen_envelopes",
        "command_usage",
    ] {
        assert!(tables.contains(table), "{table} missing from {tables:?}");
    }

    let second = KAKUSAN.command(&dir).arg("migrate").output().unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(schema().await, after_first);
    let mut connection = database.connect().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let migrations = i64::try_from(kakusan_storage::MIGRATOR.iter().count()).unwrap();
    assert_eq!(applied, migrations, "each migration applied once");
}

#[test]
fn run_keeps_waiting_for_an_unreachable_database_and_stops_on_sigterm() {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = KAKUSAN
        .command(&dir)
        .arg("run")
        .env("DISCORD_TOKEN", "token")
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{closed_port}/kakusan"),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    let seen = wait_for_lines(&lines, "waiting for the database", 3);
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running: {seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|line| line.contains(&format!("127.0.0.1:{closed_port}"))),
        "the log says which database: {seen:#?}"
    );
    sigterm(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_migrates_serves_and_exits_cleanly_on_sigterm() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = discord_sim::DiscordSim::start_default().await.unwrap();
    let app = sim.create_application("kakusan");
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = KAKUSAN
        .command(&dir)
        .env("DISCORD_TOKEN", &app.token)
        .env("DATABASE_URL", &database.url)
        .env("KAKUSAN_DISCORD_API", sim.api_url())
        .env("KAKUSAN_DISCORD_GATEWAY", sim.gateway_url())
        .env("KAKUSAN_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    let seen = wait_for_lines(&lines, "ready", 1);
    for line in &seen {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
    assert!(
        !seen.iter().any(|line| line.contains(&app.token)),
        "{seen:#?}"
    );
    sigterm(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    let mut connection = database.connect().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let migrations = i64::try_from(kakusan_storage::MIGRATOR.iter().count()).unwrap();
    assert_eq!(applied, migrations);
}
