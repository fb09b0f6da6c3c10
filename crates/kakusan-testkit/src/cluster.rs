//! A PostgreSQL cluster of a test's own: `initdb` and `pg_ctl` from the installed PostgreSQL,
//! in a temporary directory, on a free port, with trust authentication. Stopping it harms no
//! other test, which is what the database-outage tests need.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (CI does), the cluster's
//! directory is handed to the `postgres` system user and every PostgreSQL program runs as that
//! user through `runuser`; otherwise they run as the current user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running (or stopped) cluster; dropping it stops it and removes its files.
pub struct Cluster {
    /// `postgres://postgres@127.0.0.1:{port}/postgres`.
    pub url: String,
    /// The port it listens on, on 127.0.0.1; it keeps it across a stop and a start.
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    /// Holds the directory until the cluster is dropped.
    _dir: tempfile::TempDir,
}

/// The user PostgreSQL runs as when the tests run as root.
const SYSTEM_USER: &str = "postgres";

impl Cluster {
    /// Creates a cluster and starts it.
    pub fn start() -> Cluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("kakusan-pg-")
            .tempdir()
            .unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", SYSTEM_USER])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the cluster directory failed");
        }
        let data = dir.path().join("data");
        let port = free_port();
        let cluster = Cluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            bin,
            data,
            _dir: dir,
        };
        cluster.run(
            "initdb",
            &[
                "--auth=trust",
                "--username=postgres",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
                "-D",
            ],
            Some(&cluster.data),
        );
        cluster.start_again();
        cluster
    }

    /// Starts the stopped cluster again on the same port, and waits until it accepts
    /// connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.data.display()
        );
        let log = self.data.with_file_name("server.log");
        self.run(
            "pg_ctl",
            &[
                "start",
                "--wait",
                "--timeout=20",
                "-o",
                &options,
                "-l",
                &log.display().to_string(),
                "-D",
            ],
            Some(&self.data),
        );
    }

    /// Stops the cluster, closing every connection (`pg_ctl stop -m fast`).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["stop", "--wait", "--timeout=20", "-m", "fast", "-D"],
            Some(&self.data),
        );
    }

    fn run(&self, program: &str, args: &[&str], last: Option<&Path>) {
        let output = self.command(program, args, last).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn command(&self, program: &str, args: &[&str], last: Option<&Path>) -> Command {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", SYSTEM_USER, "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.args(args);
        if let Some(last) = last {
            command.arg(last);
        }
        // The cluster's files are the system user's; run from a directory it may read.
        command.current_dir("/");
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Immediate: the test is over, nothing needs to be written cleanly.
        let _ = self
            .command(
                "pg_ctl",
                &["stop", "--wait", "-m", "immediate", "-D"],
                Some(&self.data),
            )
            .output();
    }
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// The newest installed PostgreSQL's programs (Debian keeps each version under
/// `/usr/lib/postgresql/<version>/bin`); `PG_BIN` overrides.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql (or set PG_BIN)")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no /usr/lib/postgresql/<version>/bin/initdb found (or set PG_BIN)")
        .1
}

/// A port nobody listens on now. Another process could take it before the cluster (or a
/// deployment's endpoint) binds it; the start would then fail loudly, not silently use someone
/// else's server.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
