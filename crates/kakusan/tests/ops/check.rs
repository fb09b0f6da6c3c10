//! `kakusan check`: one line per check, and an exit status that says whether all passed.

use std::process::Output;

use discord_sim::DiscordSim;
use kakusan_testkit::TestDatabase;

use crate::KAKUSAN;

fn check(vars: &[(&str, &str)]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = KAKUSAN.command(&dir);
    command.arg("check");
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

fn line<'a>(stdout: &'a str, start: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_against_the_simulator_and_a_database() {
    let database = TestDatabase::create().await;
    let sim = DiscordSim::start_default().await.unwrap();
    let app = sim.create_application("kakusan");
    let api = sim.api_url();
    let (output, stdout) = tokio::task::spawn_blocking({
        let url = database.url.clone();
        move || {
            check(&[
                ("DISCORD_TOKEN", app.token.as_str()),
                ("DATABASE_URL", url.as_str()),
                ("KAKUSAN_DISCORD_API", api.as_str()),
            ])
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(
        stdout.lines().all(|line| line.starts_with("ok   ")),
        "{stdout}"
    );
    assert!(
        line(&stdout, "ok   database: reached postgres://127.0.0.1:5432/").contains(&database.name)
    );
    assert!(line(&stdout, "ok   token:").contains("kakusan"), "{stdout}");
    assert!(
        line(&stdout, "ok   gateway:").contains("1 shard recommended"),
        "{stdout}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_each_broken_setting_and_fails() {
    let sim = DiscordSim::start_default().await.unwrap();
    let api = sim.api_url();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = format!("postgres://postgres@127.0.0.1:{closed_port}/kakusan");

    // A token the simulator refuses (401), and a database nobody serves.
    let (output, stdout) = tokio::task::spawn_blocking({
        let api = api.clone();
        let unreachable = unreachable.clone();
        move || {
            check(&[
                ("DISCORD_TOKEN", "MTIz.not-a.real-token"),
                ("DATABASE_URL", unreachable.as_str()),
                ("KAKUSAN_DISCORD_API", api.as_str()),
            ])
        }
    })
    .await
    .unwrap();
    assert!(!output.status.success(), "{stdout}");
    assert_eq!(
        line(&stdout, "FAIL token:"),
        "FAIL token: the token was refused by Discord"
    );
    assert!(
        line(&stdout, "FAIL database:").contains(&format!("127.0.0.1:{closed_port}")),
        "{stdout}"
    );
    line(&stdout, "ok   config:");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim(), "error: 3 of 4 checks failed", "{stdout}");

    // A malformed URL is named, and the other settings are still checked.
    let (output, stdout) = tokio::task::spawn_blocking(move || {
        check(&[
            ("DISCORD_TOKEN", "MTIz.not-a.real-token"),
            ("DATABASE_URL", unreachable.as_str()),
            ("KAKUSAN_DISCORD_API", "not a url"),
            ("KAKUSAN_MIRROR", "maybe"),
        ])
    })
    .await
    .unwrap();
    assert!(!output.status.success(), "{stdout}");
    assert!(
        line(&stdout, "FAIL config: KAKUSAN_DISCORD_API is malformed").contains("not a URL"),
        "{stdout}"
    );
    line(&stdout, "FAIL config: KAKUSAN_MIRROR is malformed");
    line(&stdout, "FAIL database:");
    assert_eq!(
        line(&stdout, "FAIL token:"),
        "FAIL token: not checked: KAKUSAN_DISCORD_API not usable"
    );
    sim.shutdown().await;
}
