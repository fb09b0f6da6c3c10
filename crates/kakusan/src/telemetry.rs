//! Logging with `tracing`, to standard error, as pretty lines or JSON; and the one metric that
//! only the log can see, the 429s twilight-http waits out on the delivery engine's calls.

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. The filter was validated with the configuration.
///
/// The log filter applies to the log lines only: the rate-limit counter has a filter of its
/// own, so `KAKUSAN_LOG=warn` does not hide 429s from the metrics.
pub(crate) fn init(config: &LogConfig) {
    let filter = EnvFilter::new(&config.filter);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
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
