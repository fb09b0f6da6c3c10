//! The typed configuration, read once from the environment (SPEC §6).
//!
//! Only this module reads environment variables. Each setting is parsed into its final type
//! here, so a wrong value stops start-up with one line that names the variable, and nothing
//! past this point re-checks it.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use kakusan_storage::SecretString;
use thiserror::Error;
use tracing_subscriber::EnvFilter;
use url::Url;

/// A setting that is missing or malformed: the one line start-up prints.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What to put there.
        hint: &'static str,
    },
    /// A variable whose value cannot be used.
    #[error("{name} is malformed: {reason}")]
    Malformed {
        /// The variable.
        name: &'static str,
        /// Why, in words the operator can act on.
        reason: String,
    },
}

/// Where to log and how.
#[derive(Debug, Clone)]
pub(crate) struct LogConfig {
    /// The `tracing` filter (`KAKUSAN_LOG`), e.g. `info` or `kakusan=debug,sqlx=warn`.
    pub(crate) filter: String,
    /// `KAKUSAN_LOG_FORMAT`.
    pub(crate) format: LogFormat,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// For people reading a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The database.
#[derive(Clone)]
pub(crate) struct DatabaseConfig {
    /// `DATABASE_URL`; it may hold a password, so it never prints.
    pub(crate) url: SecretString,
}

impl DatabaseConfig {
    /// The URL without user and password, for log lines.
    pub(crate) fn display_target(&self) -> String {
        match Url::parse(self.url.expose()) {
            Ok(url) => format!(
                "{}:{}{}",
                url.host_str().unwrap_or("localhost"),
                url.port().unwrap_or(5432),
                url.path()
            ),
            Err(_) => "the database".to_owned(),
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("target", &self.display_target())
            .finish()
    }
}

impl NatsConfig {
    /// The server without user, password or token, for log lines and `kakusan check`.
    pub(crate) fn display_target(&self) -> String {
        format!(
            "{}:{}",
            self.url.host_str().unwrap_or("localhost"),
            self.url.port().unwrap_or(4222)
        )
    }
}

impl fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsConfig")
            .field("target", &self.display_target())
            .field("stream", &self.stream)
            .field("group", &self.group)
            .field("gateway_id", &self.gateway_id)
            .field("gateway_count", &self.gateway_count)
            .finish()
    }
}

/// How to reach Discord.
#[derive(Debug, Clone)]
pub(crate) struct DiscordConfig {
    /// `DISCORD_TOKEN`, the bot token.
    pub(crate) token: SecretString,
    /// `KAKUSAN_DISCORD_API`: the REST API's base URL.
    pub(crate) api: Url,
    /// `KAKUSAN_DISCORD_GATEWAY`: the gateway URL; `None` asks Discord (`GET /gateway/bot`).
    pub(crate) gateway: Option<Url>,
    /// `KAKUSAN_MIRROR`: request the privileged message-content intent for mirror mode.
    pub(crate) mirror: bool,
    /// `KAKUSAN_COMMANDS_GUILD`: register commands in this guild only, instead of globally.
    pub(crate) commands_guild: Option<u64>,
}

/// Everything `kakusan run` needs.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Logging.
    pub(crate) log: LogConfig,
    /// The database.
    pub(crate) database: DatabaseConfig,
    /// Discord.
    pub(crate) discord: DiscordConfig,
    /// `KAKUSAN_HTTP_ADDR`: where metrics and health will be served.
    pub(crate) http_addr: SocketAddr,
    /// The scale-out bus, when `KAKUSAN_NATS_URL` is set (`kakusan gateway` and `worker`).
    pub(crate) nats: Option<NatsConfig>,
}

/// The scale-out bus: where the NATS server is and which events are this deployment's.
#[derive(Clone)]
pub(crate) struct NatsConfig {
    /// `KAKUSAN_NATS_URL`, e.g. `nats://127.0.0.1:4222`; it may hold a user and password or a
    /// token, so it is printed as [`NatsConfig::display_target`] only.
    pub(crate) url: Url,
    /// `KAKUSAN_NATS_STREAM`: the JetStream stream (`GATEWAY`); its subjects start with the
    /// name in lower case.
    pub(crate) stream: String,
    /// `KAKUSAN_GATEWAY_GROUP`: the gateway group the deployment's processes share (`main`).
    pub(crate) group: String,
    /// `KAKUSAN_GATEWAY_ID`: this gateway process's number, below `gateway_count`.
    pub(crate) gateway_id: u32,
    /// `KAKUSAN_GATEWAY_COUNT`: how many gateway processes share the shards.
    pub(crate) gateway_count: u32,
}

impl NatsConfig {
    /// Reads `KAKUSAN_NATS_URL`, `KAKUSAN_NATS_STREAM`, `KAKUSAN_GATEWAY_GROUP`,
    /// `KAKUSAN_GATEWAY_ID` and `KAKUSAN_GATEWAY_COUNT`; `None` when no NATS URL is set (the
    /// others are still checked, so a typo is caught before it matters).
    pub(crate) fn from_vars(vars: &impl Vars) -> Result<Option<Self>, ConfigError> {
        let url = url_var(vars, "KAKUSAN_NATS_URL", &["nats", "tls"])?;
        let name = |variable: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = vars
                .get(variable)
                .map_or_else(|| default.to_owned(), |value| value.trim().to_owned());
            kakusan_bus::check_name(&value).map_err(|reason| malformed(variable, reason))?;
            Ok(value)
        };
        let stream = name("KAKUSAN_NATS_STREAM", kakusan_bus::DEFAULT_STREAM)?;
        let group = name("KAKUSAN_GATEWAY_GROUP", "main")?;
        let number = |variable: &'static str, default: u32| -> Result<u32, ConfigError> {
            match vars.get(variable) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse()
                    .map_err(|_| malformed(variable, format!("`{value}` is not a whole number"))),
            }
        };
        let gateway_id = number("KAKUSAN_GATEWAY_ID", 0)?;
        let gateway_count = number("KAKUSAN_GATEWAY_COUNT", 1)?;
        check_slice(gateway_id, gateway_count).map_err(|reason| {
            let name = if gateway_count == 0 {
                "KAKUSAN_GATEWAY_COUNT"
            } else {
                "KAKUSAN_GATEWAY_ID"
            };
            malformed(name, reason)
        })?;
        Ok(url.map(|url| NatsConfig {
            url,
            stream,
            group,
            gateway_id,
            gateway_count,
        }))
    }

    /// The NATS settings, which `kakusan gateway` and `kakusan worker` cannot do without.
    pub(crate) fn required(config: Option<&Self>) -> Result<&Self, ConfigError> {
        config.ok_or(ConfigError::Missing {
            name: "KAKUSAN_NATS_URL",
            hint: "the NATS server with JetStream, such as nats://127.0.0.1:4222",
        })
    }
}

/// Gateway `id` of `count`: the count is at least one and the id below it.
pub(crate) fn check_slice(id: u32, count: u32) -> Result<(), String> {
    if count == 0 {
        return Err("there must be at least one gateway process".to_owned());
    }
    if id >= count {
        return Err(format!(
            "gateway {id} of {count}: the id counts from 0 and stays below the count"
        ));
    }
    Ok(())
}

/// A source of variables: the process environment, or a map in tests.
pub(crate) trait Vars {
    /// The value of `name`; unset and empty are the same.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment (after `.env` was loaded into it).
pub(crate) struct ProcessEnv;

impl Vars for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    }
}

impl LogConfig {
    /// Reads `KAKUSAN_LOG` and `KAKUSAN_LOG_FORMAT`.
    pub(crate) fn from_vars(vars: &impl Vars) -> Result<Self, ConfigError> {
        let filter = vars.get("KAKUSAN_LOG").unwrap_or_else(|| "info".to_owned());
        EnvFilter::builder().parse(&filter).map_err(|error| {
            malformed(
                "KAKUSAN_LOG",
                format!("{error} (try `info` or `kakusan=debug`)"),
            )
        })?;
        let format = match vars.get("KAKUSAN_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(malformed(
                    "KAKUSAN_LOG_FORMAT",
                    format!("`{other}` is neither `pretty` nor `json`"),
                ));
            }
        };
        Ok(LogConfig { filter, format })
    }
}

impl DatabaseConfig {
    /// Reads `DATABASE_URL`.
    pub(crate) fn from_vars(vars: &impl Vars) -> Result<Self, ConfigError> {
        let raw = vars.get("DATABASE_URL").ok_or(ConfigError::Missing {
            name: "DATABASE_URL",
            hint: "a PostgreSQL URL such as postgres://kakusan:password@localhost:5432/kakusan",
        })?;
        let url = Url::parse(raw.trim())
            .map_err(|error| malformed("DATABASE_URL", format!("not a URL ({error})")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(malformed(
                "DATABASE_URL",
                format!(
                    "the scheme is `{}`, kakusan needs postgres://",
                    url.scheme()
                ),
            ));
        }
        Ok(DatabaseConfig {
            url: SecretString::new(raw.trim()),
        })
    }
}

impl DiscordConfig {
    /// Reads `DISCORD_TOKEN`, `KAKUSAN_DISCORD_API`, `KAKUSAN_DISCORD_GATEWAY`,
    /// `KAKUSAN_MIRROR` and `KAKUSAN_COMMANDS_GUILD`.
    pub(crate) fn from_vars(vars: &impl Vars) -> Result<Self, ConfigError> {
        let token = vars.get("DISCORD_TOKEN").ok_or(ConfigError::Missing {
            name: "DISCORD_TOKEN",
            hint: "the bot token from the Discord developer portal (Bot -> Reset Token)",
        })?;
        let token = token.trim();
        if token.chars().any(char::is_whitespace) || token.starts_with("Bot ") {
            return Err(malformed(
                "DISCORD_TOKEN",
                "give the token alone, without spaces or a `Bot ` prefix".to_owned(),
            ));
        }
        let api = url_var(vars, "KAKUSAN_DISCORD_API", &["https", "http"])?
            .unwrap_or_else(|| Url::parse("https://discord.com").expect("a valid URL"));
        // Requests go to `{base}/api/v10/...`: a base with a path of its own cannot be honoured.
        if !matches!(api.path(), "" | "/") || api.query().is_some() {
            return Err(malformed(
                "KAKUSAN_DISCORD_API",
                format!(
                    "`{api}` should be a scheme, host and port only, like http://127.0.0.1:8080"
                ),
            ));
        }
        let gateway = url_var(vars, "KAKUSAN_DISCORD_GATEWAY", &["wss", "ws"])?;
        let mirror = match vars.get("KAKUSAN_MIRROR") {
            None => false,
            Some(value) => parse_bool(&value).ok_or_else(|| {
                malformed("KAKUSAN_MIRROR", format!("`{value}` is not true or false"))
            })?,
        };
        let commands_guild = match vars.get("KAKUSAN_COMMANDS_GUILD") {
            None => None,
            Some(value) => Some(
                u64::from_str(value.trim())
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| {
                        malformed(
                            "KAKUSAN_COMMANDS_GUILD",
                            format!(
                                "`{value}` is not a guild id (a number like 123456789012345678)"
                            ),
                        )
                    })?,
            ),
        };
        Ok(DiscordConfig {
            token: SecretString::new(token),
            api,
            gateway,
            mirror,
            commands_guild,
        })
    }
}

impl DiscordConfig {
    /// The `host:port` to send REST requests to and whether it speaks plain HTTP, when the API
    /// is not Discord's own (`None`).
    pub(crate) fn proxy(&self) -> Option<(String, bool)> {
        if self.api.scheme() == "https"
            && self.api.host_str() == Some("discord.com")
            && self.api.port().is_none()
        {
            return None;
        }
        let host = self.api.host_str()?;
        let port = self.api.port_or_known_default()?;
        Some((format!("{host}:{port}"), self.api.scheme() == "http"))
    }
}

impl Config {
    /// Reads everything `kakusan run` needs, stopping at the first bad setting.
    pub(crate) fn from_vars(vars: &impl Vars) -> Result<Self, ConfigError> {
        let log = LogConfig::from_vars(vars)?;
        let discord = DiscordConfig::from_vars(vars)?;
        let database = DatabaseConfig::from_vars(vars)?;
        let http_addr = match vars.get("KAKUSAN_HTTP_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 9100)),
            Some(value) => value.trim().parse().map_err(|_| {
                malformed(
                    "KAKUSAN_HTTP_ADDR",
                    format!("`{value}` is not an address and port like 0.0.0.0:9100"),
                )
            })?,
        };
        let nats = NatsConfig::from_vars(vars)?;
        Ok(Config {
            log,
            database,
            discord,
            http_addr,
            nats,
        })
    }
}

fn malformed(name: &'static str, reason: String) -> ConfigError {
    ConfigError::Malformed { name, reason }
}

fn url_var(
    vars: &impl Vars,
    name: &'static str,
    schemes: &[&str],
) -> Result<Option<Url>, ConfigError> {
    let Some(raw) = vars.get(name) else {
        return Ok(None);
    };
    let url =
        Url::parse(raw.trim()).map_err(|error| malformed(name, format!("not a URL ({error})")))?;
    if !schemes.contains(&url.scheme()) || url.host_str().is_none() {
        return Err(malformed(
            name,
            format!(
                "a `{}` URL should be a {} URL with a host",
                url.scheme(),
                schemes.join(" or ")
            ),
        ));
    }
    Ok(Some(url))
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Map(HashMap<&'static str, &'static str>);

    impl Vars for Map {
        fn get(&self, name: &str) -> Option<String> {
            self.0
                .get(name)
                .map(|v| v.to_string())
                .filter(|v| !v.trim().is_empty())
        }
    }

    fn vars(pairs: &[(&'static str, &'static str)]) -> Map {
        let mut map = HashMap::from([
            ("DISCORD_TOKEN", "abc.def.ghi"),
            ("DATABASE_URL", "postgres://kakusan:pw@db:5432/kakusan"),
        ]);
        map.extend(pairs.iter().copied());
        Map(map)
    }

    fn error_of(pairs: &[(&'static str, &'static str)]) -> String {
        Config::from_vars(&vars(pairs)).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let config = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(config.discord.api.as_str(), "https://discord.com/");
        assert_eq!(config.discord.gateway, None);
        assert!(!config.discord.mirror);
        assert_eq!(config.discord.commands_guild, None);
        assert_eq!(config.log.format, LogFormat::Pretty);
        assert_eq!(config.http_addr, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(config.database.display_target(), "db:5432/kakusan");
        assert_eq!(config.discord.proxy(), None, "Discord itself");
        assert!(config.nats.is_none(), "no NATS unless asked for");
    }

    #[test]
    fn the_scale_out_settings() {
        let config = Config::from_vars(&vars(&[
            ("KAKUSAN_NATS_URL", "nats://127.0.0.1:4222"),
            ("KAKUSAN_GATEWAY_ID", "1"),
            ("KAKUSAN_GATEWAY_COUNT", "2"),
        ]))
        .unwrap();
        let nats = config.nats.unwrap();
        assert_eq!(nats.url.port(), Some(4222));
        assert_eq!(nats.stream, "GATEWAY");
        assert_eq!(nats.group, "main");
        assert_eq!((nats.gateway_id, nats.gateway_count), (1, 2));
        assert!(
            NatsConfig::required(None)
                .unwrap_err()
                .to_string()
                .starts_with("KAKUSAN_NATS_URL is not set")
        );
    }

    #[test]
    fn everything_set() {
        let config = Config::from_vars(&vars(&[
            ("KAKUSAN_DISCORD_API", "http://127.0.0.1:8080"),
            ("KAKUSAN_DISCORD_GATEWAY", "ws://127.0.0.1:8081"),
            ("KAKUSAN_MIRROR", "true"),
            ("KAKUSAN_COMMANDS_GUILD", "123456789012345678"),
            ("KAKUSAN_LOG_FORMAT", "json"),
            ("KAKUSAN_LOG", "kakusan=debug,sqlx=warn"),
            ("KAKUSAN_HTTP_ADDR", "0.0.0.0:9100"),
        ]))
        .unwrap();
        assert_eq!(config.discord.api.port(), Some(8080));
        assert_eq!(
            config.discord.proxy(),
            Some(("127.0.0.1:8080".to_owned(), true))
        );
        assert_eq!(config.discord.gateway.unwrap().scheme(), "ws");
        assert!(config.discord.mirror);
        assert_eq!(config.discord.commands_guild, Some(123456789012345678));
        assert_eq!(config.log.format, LogFormat::Json);
    }

    #[test]
    fn each_bad_setting_is_named() {
        let cases: &[(&'static str, &'static str)] = &[
            ("DISCORD_TOKEN", ""),
            ("DISCORD_TOKEN", "Bot abc"),
            ("DATABASE_URL", ""),
            ("DATABASE_URL", "mysql://db/kakusan"),
            ("DATABASE_URL", "not a url"),
            ("KAKUSAN_DISCORD_API", "ftp://example.com"),
            ("KAKUSAN_DISCORD_API", "http://127.0.0.1:8080/api/v10"),
            ("KAKUSAN_DISCORD_GATEWAY", "https://gateway.discord.gg"),
            ("KAKUSAN_MIRROR", "maybe"),
            ("KAKUSAN_COMMANDS_GUILD", "my-guild"),
            ("KAKUSAN_LOG", "kakusan=loud"),
            ("KAKUSAN_LOG_FORMAT", "xml"),
            ("KAKUSAN_HTTP_ADDR", "localhost"),
            ("KAKUSAN_NATS_URL", "http://127.0.0.1:4222"),
            ("KAKUSAN_NATS_STREAM", "GATE.WAY"),
            ("KAKUSAN_GATEWAY_GROUP", "a b"),
            ("KAKUSAN_GATEWAY_ID", "first"),
            ("KAKUSAN_GATEWAY_ID", "2"),
            ("KAKUSAN_GATEWAY_COUNT", "0"),
        ];
        for (name, value) in cases {
            let error = error_of(&[(name, value)]);
            assert!(error.starts_with(name), "{name}={value:?} gave: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn the_database_password_never_prints() {
        let config = Config::from_vars(&vars(&[])).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("pw@"), "{shown}");
        assert!(!shown.contains("abc.def.ghi"), "{shown}");
    }

    #[test]
    fn nats_credentials_never_print() {
        let config = Config::from_vars(&vars(&[(
            "KAKUSAN_NATS_URL",
            "nats://bus:s3cret@nats:4222",
        )]))
        .unwrap();
        let nats = config.nats.as_ref().unwrap();
        assert_eq!(nats.display_target(), "nats:4222");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let wrong = Config::from_vars(&vars(&[("KAKUSAN_NATS_URL", "http://bus:s3cret@nats")]));
        let error = wrong.unwrap_err().to_string();
        assert!(
            !error.contains("s3cret") && error.contains("KAKUSAN_NATS_URL"),
            "{error}"
        );
    }
}
