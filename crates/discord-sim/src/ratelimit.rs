//! Rate limits as Discord applies and reports them ("Topics: Rate Limits").
//!
//! Buckets are fixed windows: a bucket allows `requests` calls, then answers 429 until its window
//! resets. Every limited response carries the `X-RateLimit-*` headers; a 429 also carries
//! `X-RateLimit-Scope` and `Retry-After`, which twilight-http needs to back off correctly.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};

/// A fixed-window limit: `requests` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window length.
    pub window: Duration,
}

impl Limit {
    /// A limit of `requests` per `window`.
    pub const fn new(requests: u32, window: Duration) -> Self {
        Self { requests, window }
    }
}

/// Which limits apply; tests shorten or tighten them to force 429s quickly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Per webhook id, for executing webhooks and editing or deleting their messages
    /// (Discord: 5 per 2 seconds).
    pub webhook: Limit,
    /// Per bot token over all bot-authenticated routes (Discord: 50 per second).
    pub global: Limit,
    /// Per bot token, route and major parameter, for every other bot route.
    pub route: Limit,
    /// Limits for particular bot routes instead of `route`, e.g. Discord's 5 per 5 s for
    /// `POST /channels/{channel_id}/messages`; the first match wins.
    pub overrides: Vec<RouteLimit>,
}

/// A limit for the bot routes matching a method and a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLimit {
    /// The HTTP method, or any when None.
    pub method: Option<String>,
    /// The route pattern: a template such as `/channels/{channel_id}/messages` (with or
    /// without `/api/v10`), where `*` also matches one segment.
    pub path: String,
    /// The limit for each bucket (one per bot token and major parameter).
    pub limit: Limit,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            webhook: Limit::new(5, Duration::from_secs(2)),
            global: Limit::new(50, Duration::from_secs(1)),
            route: Limit::new(50, Duration::from_secs(1)),
            overrides: Vec::new(),
        }
    }
}

/// The state of one bucket after a request, used for the response headers.
#[derive(Debug, Clone)]
pub(crate) struct BucketState {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    pub(crate) reset_after: Duration,
    pub(crate) bucket: String,
}

impl BucketState {
    /// Writes the `X-RateLimit-*` headers Discord sends on every limited route.
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap) {
        // Rounded up to the millisecond: a client that waits exactly the advertised time must
        // find the bucket reset. Rounding to the nearest would advertise up to 0.5 ms too
        // little and cause 429s that a well-behaved client does not get from Discord.
        let reset_after = (self.reset_after.as_secs_f64() * 1000.0).ceil() / 1000.0;
        let reset_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            + reset_after;
        let reset_at = (reset_at * 1000.0).ceil() / 1000.0;
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        put("x-ratelimit-limit", self.limit.to_string());
        put("x-ratelimit-remaining", self.remaining.to_string());
        put("x-ratelimit-reset", format!("{reset_at:.3}"));
        put("x-ratelimit-reset-after", format!("{reset_after:.3}"));
        put("x-ratelimit-bucket", self.bucket.clone());
    }
}

#[derive(Debug)]
struct Window {
    count: u32,
    reset_at: Instant,
}

/// Fixed-window counters by bucket key.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: HashMap<String, Window>,
}

impl RateLimiter {
    /// Counts a request against `key`; returns whether it is allowed and the bucket state.
    pub(crate) fn hit(&mut self, key: &str, bucket: &str, limit: Limit) -> (bool, BucketState) {
        let now = Instant::now();
        let window = self.windows.entry(key.to_owned()).or_insert(Window {
            count: 0,
            reset_at: now + limit.window,
        });
        if now >= window.reset_at {
            window.count = 0;
            window.reset_at = now + limit.window;
        }
        let allowed = window.count < limit.requests;
        if allowed {
            window.count += 1;
        }
        let state = BucketState {
            limit: limit.requests,
            remaining: limit.requests - window.count,
            reset_after: window.reset_at.saturating_duration_since(now),
            bucket: bucket.to_owned(),
        };
        (allowed, state)
    }

    /// Whether `key` would allow one more request, without counting it.
    pub(crate) fn would_allow(&self, key: &str, limit: Limit) -> Result<(), Duration> {
        let now = Instant::now();
        match self.windows.get(key) {
            Some(w) if now < w.reset_at && w.count >= limit.requests => {
                Err(w.reset_at.saturating_duration_since(now))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.windows.clear();
    }
}

/// A stable opaque bucket id for a route, like Discord's hashes.
pub(crate) fn bucket_hash(route: &str) -> String {
    // FNV-1a: stable across runs, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in route.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_after_its_limit_and_resets() {
        let mut limiter = RateLimiter::default();
        let limit = Limit::new(2, Duration::from_millis(50));
        assert!(limiter.hit("k", "b", limit).0);
        let (allowed, state) = limiter.hit("k", "b", limit);
        assert!(allowed);
        assert_eq!(state.remaining, 0);
        assert!(!limiter.hit("k", "b", limit).0);
        assert!(limiter.would_allow("k", limit).is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.hit("k", "b", limit).0);
    }
}
