//! `kakusan check`: the configuration, the database, the token and the gateway, one line each.
//!
//! Meant for an operator at a terminal (or a deployment pipeline) before `run`: every check
//! runs even when an earlier one failed, where it can, so one invocation lists everything to
//! fix. Nothing waits long: the database and Discord get a few seconds each, never the endless
//! retry of `run`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::de::DeserializeOwned;

use twilight_http::error::ErrorType;
use url::Url;

use crate::config::{Config, ConfigError, ProcessEnv, Vars};

/// How long the database may take to answer.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long Discord may take to answer one request.
const DISCORD_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs every check against the process environment and prints one line per check on standard
/// output; an error (one line) if any failed.
pub(crate) async fn run() -> anyhow::Result<()> {
    let results = check(&ProcessEnv).await;
    for line in &results {
        println!("{line}");
    }
    let failed = results.iter().filter(|line| !line.ok).count();
    if failed == 0 {
        Ok(())
    } else {
        anyhow::bail!("{failed} of {} checks failed", results.len())
    }
}

/// The result of one check.
struct Line {
    ok: bool,
    what: &'static str,
    detail: String,
}

impl Line {
    fn ok(what: &'static str, detail: impl Into<String>) -> Self {
        Line {
            ok: true,
            what,
            detail: detail.into(),
        }
    }

    fn fail(what: &'static str, detail: impl Into<String>) -> Self {
        Line {
            ok: false,
            what,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.ok { "ok  " } else { "FAIL" };
        write!(f, "{verdict} {}: {}", self.what, self.detail)
    }
}

async fn check(vars: &impl Vars) -> Vec<Line> {
    let (config, broken) = read_config(vars);
    let mut lines: Vec<Line> = broken
        .values()
        .map(|error| Line::fail("config", error.to_string()))
        .collect();
    if broken.is_empty() {
        lines.push(Line::ok("config", "every setting is well-formed"));
    }

    if broken.contains_key("DATABASE_URL") {
        lines.push(Line::fail(
            "database",
            "not checked: DATABASE_URL is not usable",
        ));
    } else {
        lines.push(check_database(&config).await);
    }

    let unusable: BTreeSet<&str> = ["DISCORD_TOKEN", "KAKUSAN_DISCORD_API"]
        .into_iter()
        .filter(|name| broken.contains_key(name))
        .collect();
    if unusable.is_empty() {
        let http = crate::discord_client(&config.discord);
        lines.push(check_token(&http, &config.discord.api).await);
        lines.push(check_gateway(&http, &config).await);
    } else {
        let why = format!(
            "not checked: {} not usable",
            unusable.into_iter().collect::<Vec<_>>().join(" and ")
        );
        lines.push(Line::fail("token", why.clone()));
        lines.push(Line::fail("gateway", why));
    }
    // Only a scaled-out deployment uses NATS; `run` alone needs no line for it.
    if let Some(nats) = &config.nats {
        lines.push(check_nats(nats).await);
    }
    lines
}

/// Whether the NATS server answers with JetStream, and what waits in the stream.
async fn check_nats(nats: &crate::config::NatsConfig) -> Line {
    let url = nats.display_target();
    let probe = kakusan_bus::Bus::probe(nats.url.as_str(), &nats.stream);
    match tokio::time::timeout(DISCORD_TIMEOUT, probe).await {
        Ok(Ok(Some(waiting))) => Line::ok(
            "nats",
            format!(
                "reached {url} with JetStream; stream {} holds {waiting} unhandled event{}",
                nats.stream,
                if waiting == 1 { "" } else { "s" }
            ),
        ),
        Ok(Ok(None)) => Line::ok(
            "nats",
            format!(
                "reached {url} with JetStream; stream {} not created yet (the first gateway or worker creates it)",
                nats.stream
            ),
        ),
        Ok(Err(error)) => Line::fail("nats", format!("cannot use {url}: {error}")),
        Err(_) => Line::fail("nats", format!("no answer from {url} within 5 s")),
    }
}

/// Reads the configuration, setting aside each bad variable (unset it, or put a harmless
/// placeholder in place of a missing required one) and reading again, so that every bad
/// setting is reported, not only the first. Returns the configuration read with the bad ones
/// set aside, and the errors by variable.
fn read_config(vars: &impl Vars) -> (Config, BTreeMap<&'static str, ConfigError>) {
    let mut aside = SetAside {
        vars,
        replaced: BTreeMap::new(),
    };
    let mut broken = BTreeMap::new();
    loop {
        match Config::from_vars(&aside) {
            Ok(config) => return (config, broken),
            Err(error) => {
                let name = match &error {
                    ConfigError::Missing { name, .. } | ConfigError::Malformed { name, .. } => {
                        *name
                    }
                };
                let placeholder = match name {
                    "DISCORD_TOKEN" => Some("placeholder".to_owned()),
                    "DATABASE_URL" => Some("postgres://localhost/placeholder".to_owned()),
                    _ => None,
                };
                // A placeholder that is itself refused would loop; the configuration code
                // accepts both, and this guard keeps a future change from hanging `check`.
                assert!(
                    aside.replaced.insert(name, placeholder).is_none(),
                    "{name} was set aside and still refused"
                );
                broken.insert(name, error);
            }
        }
    }
}

/// The environment with some variables replaced.
struct SetAside<'a, V> {
    vars: &'a V,
    replaced: BTreeMap<&'static str, Option<String>>,
}

impl<V: Vars> Vars for SetAside<'_, V> {
    fn get(&self, name: &str) -> Option<String> {
        match self.replaced.get(name) {
            Some(value) => value.clone(),
            None => self.vars.get(name),
        }
    }
}

async fn check_database(config: &Config) -> Line {
    let target = format!("postgres://{}", config.database.display_target());
    let reached = tokio::time::timeout(
        DATABASE_TIMEOUT,
        kakusan_storage::probe(config.database.url.expose()),
    )
    .await;
    match reached {
        Ok(Ok(())) => Line::ok("database", format!("reached {target}")),
        Ok(Err(error)) => Line::fail(
            "database",
            format!("cannot use {target}: {}", one_line(&error)),
        ),
        Err(_) => Line::fail(
            "database",
            format!(
                "no answer from {target} within {} s",
                DATABASE_TIMEOUT.as_secs()
            ),
        ),
    }
}

async fn check_token(http: &twilight_http::Client, api: &Url) -> Line {
    match ask(http.current_user(), api).await {
        Ok(user) => Line::ok(
            "token",
            format!(
                "accepted by Discord for the bot {} (id {})",
                user.name, user.id
            ),
        ),
        Err(reason) => Line::fail("token", reason),
    }
}

async fn check_gateway(http: &twilight_http::Client, config: &Config) -> Line {
    let api = &config.discord.api;
    match ask(http.gateway().authed(), api).await {
        Ok(info) => {
            let url = match &config.discord.gateway {
                Some(url) => format!("{url} (KAKUSAN_DISCORD_GATEWAY)"),
                None => info.url.clone(),
            };
            Line::ok(
                "gateway",
                format!(
                    "{} shard{} recommended, {} of {} session starts left; connecting to {url}",
                    info.shards,
                    if info.shards == 1 { "" } else { "s" },
                    info.session_start_limit.remaining,
                    info.session_start_limit.total,
                ),
            )
        }
        Err(reason) => Line::fail("gateway", reason),
    }
}

/// One Discord request, within [`DISCORD_TIMEOUT`]; a failure in words for the operator.
async fn ask<T, R>(request: R, api: &Url) -> Result<T, String>
where
    R: IntoFuture<Output = Result<twilight_http::Response<T>, twilight_http::Error>>,
    T: DeserializeOwned + Unpin,
{
    let answer = tokio::time::timeout(DISCORD_TIMEOUT, async {
        let response = request
            .await
            .map_err(|error| discord_failure(&error, api))?;
        response
            .model()
            .await
            .map_err(|error| unreadable(&error, api))
    })
    .await;
    answer.unwrap_or_else(|_| Err(no_answer(api)))
}

/// Why a Discord request failed, in words for the operator.
fn discord_failure(error: &twilight_http::Error, api: &Url) -> String {
    match error.kind() {
        // twilight remembers a refused token and refuses later requests itself.
        ErrorType::Unauthorized => "the token was refused by Discord".to_owned(),
        ErrorType::Response { status, .. } if status.get() == 401 => {
            "the token was refused by Discord".to_owned()
        }
        ErrorType::Response { status, error, .. } => {
            format!("Discord at {api} answered {status}: {error}")
        }
        _ => format!("cannot reach Discord at {api}: {}", one_line(error)),
    }
}

fn unreadable(error: &(dyn std::error::Error + 'static), api: &Url) -> String {
    format!(
        "unreadable answer from Discord at {api}: {}",
        one_line(error)
    )
}

fn no_answer(api: &Url) -> String {
    format!(
        "no answer from Discord at {api} within {} s",
        DISCORD_TIMEOUT.as_secs()
    )
}

/// An error and its causes on one line.
fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Some errors print their cause in their own message already.
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Map(HashMap<&'static str, &'static str>);

    impl Vars for Map {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|value| value.to_string())
        }
    }

    #[test]
    fn every_bad_setting_is_reported_not_only_the_first() {
        let vars = Map(HashMap::from([
            ("KAKUSAN_DISCORD_API", "not a url"),
            ("KAKUSAN_MIRROR", "maybe"),
            ("KAKUSAN_HTTP_ADDR", "localhost"),
            ("KAKUSAN_LOG_FORMAT", "xml"),
        ]));
        let (_, broken) = read_config(&vars);
        let names: Vec<&str> = broken.keys().copied().collect();
        assert_eq!(
            names,
            [
                "DATABASE_URL",
                "DISCORD_TOKEN",
                "KAKUSAN_DISCORD_API",
                "KAKUSAN_HTTP_ADDR",
                "KAKUSAN_LOG_FORMAT",
                "KAKUSAN_MIRROR",
            ]
        );
    }

    #[test]
    fn a_good_configuration_has_nothing_set_aside() {
        let vars = Map(HashMap::from([
            ("DISCORD_TOKEN", "abc.def.ghi"),
            ("DATABASE_URL", "postgres://kakusan@db/kakusan"),
        ]));
        let (config, broken) = read_config(&vars);
        assert!(broken.is_empty());
        assert_eq!(config.database.display_target(), "db:5432/kakusan");
    }
}
