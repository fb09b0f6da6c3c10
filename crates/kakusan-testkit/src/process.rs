//! The compiled `kakusan` as a child process, as an operator runs it: a clean environment,
//! its log read line by line, SIGTERM, and waiting for its exit.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The compiled `kakusan`. Cargo tells only the `kakusan` package's own integration tests where
/// it is (`env!("CARGO_BIN_EXE_kakusan")`), so they make this and hand it to the helpers.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    path: &'static str,
}

impl Binary {
    /// The binary at `path`.
    pub const fn new(path: &'static str) -> Self {
        Binary { path }
    }

    /// The binary, with a clean environment, its HTTP endpoint on a free port, and `dir`
    /// (without a `.env`) as its working directory.
    pub fn command(&self, dir: &tempfile::TempDir) -> Command {
        let mut command = Command::new(self.path);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KAKUSAN_LOG", "info")
            // A port of its own: tests run in parallel, and 9100 (the default) may be taken.
            .env("KAKUSAN_HTTP_ADDR", "127.0.0.1:0")
            .current_dir(dir.path());
        command
    }
}

/// Collects the child's standard error line by line on a thread of its own.
pub fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits until `count` lines containing `needle` arrived; returns every line read so far.
pub fn wait_for_lines(lines: &mpsc::Receiver<String>, needle: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|line: &&String| line.contains(needle))
        .count()
        < count
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no {count} lines with {needle:?} within 20 s; got {seen:#?}"),
        }
    }
    seen
}

/// Waits until the child exits and returns its status; kills it and panics after `within`.
pub fn wait_for_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the process did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGTERM to the child, as an operator (or an orchestrator) stops it.
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the `http endpoint listening` line of a child that logs JSON
/// (`KAKUSAN_LOG_FORMAT=json`) and returns the address it gives, with every line read so far.
pub fn http_addr(lines: &mpsc::Receiver<String>) -> (SocketAddr, Vec<String>) {
    let seen = wait_for_lines(lines, "http endpoint listening", 1);
    let line = seen
        .iter()
        .find(|line| line.contains("http endpoint listening"))
        .unwrap();
    let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
    let addr = parsed["addr"]
        .as_str()
        .unwrap_or_else(|| panic!("no addr in {line}"))
        .parse()
        .unwrap();
    (addr, seen)
}
