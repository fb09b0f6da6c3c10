//! How the delivery engine behaves: the settings the binary hands it.

use std::time::Duration;

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// This worker's name in job leases; unique per process.
    pub worker_id: String,
    /// How long a claimed job is this worker's unless renewed (every third of it, while the
    /// call runs); after that another worker may take it over. It bounds how long the jobs of a
    /// process that died wait.
    pub lease: Duration,
    /// How many calls may be under way at once, over all destinations. A call waiting out its
    /// webhook's rate limit holds its slot, so this should exceed the number of destinations
    /// that are busy at once, or waiting lanes starve the others.
    pub max_in_flight: usize,
    /// How often to look for due jobs without a notification (scheduled jobs, retries, and
    /// notifications lost while the listening connection was down).
    pub poll_interval: Duration,
    /// The first retry delay; it doubles with each attempt, with jitter.
    pub backoff_base: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// How long shutdown waits for running calls.
    pub drain_timeout: Duration,
    /// Files up to this size are re-uploaded; larger ones are linked.
    pub upload_limit: u64,
    /// The hosts attachments are downloaded from: Discord's CDN, and the host of the API base
    /// a test server or proxy serves them from. A member's message cannot make kakusan fetch
    /// anything else.
    pub download_hosts: Vec<String>,
    /// How long one attachment download may take.
    pub download_timeout: Duration,
}

/// The hosts Discord serves attachments from.
pub const DISCORD_CDN_HOSTS: [&str; 2] = ["cdn.discordapp.com", "media.discordapp.net"];

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            worker_id: format!(
                "worker-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ),
            lease: Duration::from_secs(10),
            max_in_flight: 256,
            poll_interval: Duration::from_secs(1),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            drain_timeout: Duration::from_secs(8),
            upload_limit: 10 * 1024 * 1024,
            download_hosts: DISCORD_CDN_HOSTS.map(str::to_owned).to_vec(),
            download_timeout: Duration::from_secs(30),
        }
    }
}
