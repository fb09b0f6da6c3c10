//! The settings of a simulator instance, kept apart from the crate root so that the world can
//! be built from them without importing the server that owns it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::ratelimit::RateLimitConfig;

/// Settings for a simulator instance; `Default` matches Discord's own numbers.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The address to bind; `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// Rate limits (webhook, global and per-route buckets).
    pub rate_limits: RateLimitConfig,
    /// How long after creation an interaction accepts its initial response (Discord: 3 s).
    pub interaction_deadline: Duration,
    /// How long an interaction token works for follow-ups and `@original` (Discord: 15 min).
    pub interaction_token_lifetime: Duration,
    /// The largest request body accepted, in bytes (Discord: 10 MiB without boosts).
    pub upload_limit: u64,
    /// The heartbeat interval announced in HELLO (Discord: 41.25 s).
    pub heartbeat_interval: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            rate_limits: RateLimitConfig::default(),
            interaction_deadline: Duration::from_secs(3),
            interaction_token_lifetime: Duration::from_secs(15 * 60),
            upload_limit: 10 * 1024 * 1024,
            heartbeat_interval: Duration::from_millis(41_250),
        }
    }
}
