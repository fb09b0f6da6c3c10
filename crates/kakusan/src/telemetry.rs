//! Logging with `tracing`, to standard error, as pretty lines or JSON, with tokens redacted;
//! and the one metric that only the log can see, the 429s twilight-http waits out on the
//! delivery engine's calls.

use std::borrow::Cow;
use std::io::{self, Write};

use kakusan_storage::SecretString;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. The filter was validated with the configuration;
/// `bot_token`, when the command has one, never appears in a line (see [`Redacting`]).
///
/// The log filter applies to the log lines only: the rate-limit counter has a filter of its
/// own, so `KAKUSAN_LOG=warn` does not hide 429s from the metrics.
pub(crate) fn init(config: &LogConfig, bot_token: Option<&SecretString>) {
    let filter = EnvFilter::new(&config.filter);
    let writer = Redacting {
        inner: io::stderr,
        bot_token: bot_token
            .filter(|token| !token.expose().is_empty())
            .cloned(),
    };
    // Colours only on a terminal: in a container's log, or a file, escape codes are noise.
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(writer);
    let lines = match config.format {
        LogFormat::Pretty => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines.json().flatten_event(true).with_filter(filter).boxed(),
    };
    let counter = RateLimitCounter.with_filter(
        Targets::new()
            .with_target("twilight_http", Level::INFO)
            .with_target(DELIVERY_TARGET, Level::INFO),
    );
    tracing_subscriber::registry()
        .with(lines)
        .with(counter)
        .init();
}

/// The crate of the delivery engine, whose `job` span wraps every webhook call it makes.
const DELIVERY_TARGET: &str = "kakusan_delivery";
/// What twilight-http 0.18 logs (in its `request` span) before it waits out a 429 and sends
/// the request again; the 429 itself never reaches the caller.
const RATE_LIMITED_MESSAGE: &str = "rate limited; retrying";

/// Counts `kakusan_webhook_rate_limited_total`: twilight-http's 429 events inside a delivery
/// job's span. Matching a log message is brittle across twilight versions, so the binary's
/// tests force a 429 in the simulator and read the counter.
struct RateLimitCounter;

impl<S> Layer<S> for RateLimitCounter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("twilight_http") {
            return;
        }
        let mut message = MessageIs(RATE_LIMITED_MESSAGE, false);
        event.record(&mut message);
        if !message.1 {
            return;
        }
        let in_delivery_job = ctx.event_scope(event).is_some_and(|mut scope| {
            scope.any(|span| {
                span.name() == "job" && span.metadata().target().starts_with(DELIVERY_TARGET)
            })
        });
        if in_delivery_job {
            metrics::counter!(crate::metrics::WEBHOOK_RATE_LIMITED).increment(1);
        }
    }
}

/// Whether an event's `message` field is the given text.
struct MessageIs(&'static str, bool);

impl Visit for MessageIs {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.1 = value == self.0;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // A message without arguments arrives as `fmt::Arguments`, through this method.
        if field.name() == "message" {
            self.1 = format!("{value:?}") == self.0;
        }
    }
}

/// What a token is replaced with in the log.
const REDACTED: &str = "<redacted>";

/// The URL paths whose segment after the id is a token: `webhooks/{id}/{token}` (webhooks,
/// and interaction follow-ups under the application's id) and `interactions/{id}/{token}`.
const TOKEN_PATHS: [&str; 2] = ["webhooks/", "interactions/"];

/// The log's writer (standard error in `init`), with every line passed through [`redact`]
/// first.
///
/// Tokens reach the log from other crates' spans and messages (twilight-http's `request` span
/// carries the request path, and its 429 event is at INFO), in either format. Redacting the
/// formatted line, rather than the fields of one known span, covers every field and message
/// of every crate in both formats, including those a dependency adds later.
struct Redacting<M> {
    /// Where the redacted lines go.
    inner: M,
    /// The bot token, which is replaced wherever it appears.
    bot_token: Option<SecretString>,
}

impl<'a, M: MakeWriter<'a> + 'a> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactedLine<'a, M>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine {
            text: Vec::new(),
            bot_token: self.bot_token.as_ref().map(SecretString::expose),
            out: &self.inner,
        }
    }
}

/// One event's output: `tracing-subscriber` asks for a writer per event, so collecting the
/// writes and redacting them together on drop sees whole lines, never a token split between
/// two writes.
struct RedactedLine<'a, M: MakeWriter<'a> + 'a> {
    text: Vec<u8>,
    bot_token: Option<&'a str>,
    /// Asked for its writer only when the line is complete, so that a writer holding a lock
    /// holds it for the one write.
    out: &'a M,
}

impl<'a, M: MakeWriter<'a> + 'a> Write for RedactedLine<'a, M> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Nothing leaves before the line is complete; the drop writes it.
        Ok(())
    }
}

impl<'a, M: MakeWriter<'a> + 'a> Drop for RedactedLine<'a, M> {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.text);
        let line = redact(&text, self.bot_token);
        let mut out = self.out.make_writer();
        // A log line that cannot be written to standard error has nowhere to be reported.
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    }
}

/// `text` with the bot token and the token segment of every `webhooks/{id}/{token}` and
/// `interactions/{id}/{token}` path replaced by [`REDACTED`].
fn redact<'t>(text: &'t str, bot_token: Option<&str>) -> Cow<'t, str> {
    let mut text = Cow::Borrowed(text);
    if let Some(token) = bot_token
        && text.contains(token)
    {
        text = Cow::Owned(text.replace(token, REDACTED));
    }
    for prefix in TOKEN_PATHS {
        if text.contains(prefix) {
            text = Cow::Owned(redact_path_tokens(&text, prefix));
        }
    }
    text
}

/// Replaces the segment after `{prefix}{id}/`, where the id is a snowflake (digits).
fn redact_path_tokens(text: &str, prefix: &str) -> String {
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let (before, after) = rest.split_at(at + prefix.len());
        redacted.push_str(before);
        rest = after;
        let id = rest.bytes().take_while(u8::is_ascii_digit).count();
        if id == 0 || !rest[id..].starts_with('/') {
            continue;
        }
        let token = rest[id + 1..]
            .bytes()
            .take_while(|&byte| is_token_byte(byte))
            .count();
        redacted.push_str(&rest[..=id]);
        if token > 0 {
            redacted.push_str(REDACTED);
        }
        rest = &rest[id + 1 + token..];
    }
    redacted.push_str(rest);
    redacted
}

/// Whether `byte` continues a token segment: what a URL path segment may hold (RFC 3986
/// `pchar`), except the sub-delimiters that log lines use as punctuation (`'(),;&`), so that
/// a token is cut where the path ends in a quoted, bracketed or listed value.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~%!$*+=:@".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_and_interaction_tokens_are_cut_where_the_segment_ends() {
        let cases = [
            (
                r#"request{method="POST" path="webhooks/123/abc-DEF_9"}: rate limited"#,
                r#"request{method="POST" path="webhooks/123/<redacted>"}: rate limited"#,
            ),
            (
                r#"{"path":"webhooks/1/tok/messages/@original","name":"request"}"#,
                r#"{"path":"webhooks/1/<redacted>/messages/@original","name":"request"}"#,
            ),
            (
                "https://discord.com/api/v10/webhooks/42/secret?wait=true",
                "https://discord.com/api/v10/webhooks/42/<redacted>?wait=true",
            ),
            (
                "POST interactions/7/t.k/callback, then interactions/8/x",
                "POST interactions/7/<redacted>/callback, then interactions/8/<redacted>",
            ),
            (
                r#"escaped \"webhooks/5/tok\" and (webhooks/6/tok2)"#,
                r#"escaped \"webhooks/5/<redacted>\" and (webhooks/6/<redacted>)"#,
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(redact(line, None), expected);
        }
    }

    #[test]
    fn paths_without_a_token_are_left_alone() {
        for line in [
            "GET webhooks/123 answered 200",
            "channels/5/webhooks/ listed",
            "webhooks/@me/x and webhooks/12x/y",
            "no path at all",
        ] {
            assert_eq!(redact(line, None), line);
        }
    }

    #[test]
    fn the_bot_token_is_replaced_anywhere() {
        let token = "MTIz.abc.def";
        assert_eq!(
            redact(
                "Authorization: Bot MTIz.abc.def, again MTIz.abc.def",
                Some(token)
            ),
            "Authorization: Bot <redacted>, again <redacted>"
        );
    }

    #[test]
    fn redacting_twice_changes_nothing_more() {
        let once = redact("webhooks/1/abc interactions/2/def", None).into_owned();
        assert_eq!(redact(&once, None), once);
    }

    #[test]
    fn a_line_is_redacted_whole_when_its_writer_is_dropped() {
        let make = Redacting {
            inner: std::sync::Mutex::new(Vec::new()),
            bot_token: Some(SecretString::new("bot-secret")),
        };
        let mut line = make.make_writer();
        // Tokens split between writes are still found, because the drop sees every write.
        line.write_all(b"webhooks/9/to").unwrap();
        line.write_all(b"ken bot-sec").unwrap();
        line.write_all(b"ret\n").unwrap();
        line.flush().unwrap();
        assert!(
            make.inner.lock().unwrap().is_empty(),
            "nothing before the drop"
        );
        drop(line);
        assert_eq!(
            String::from_utf8(make.inner.lock().unwrap().clone()).unwrap(),
            "webhooks/9/<redacted> <redacted>\n"
        );
    }
}
