//! Shared fixtures: a deterministic random number generator and the three test servers whose
//! keys the golden vectors use.

use chrono::{DateTime, TimeZone as _, Utc};
use kakusan_protocol::rand_core::{CryptoRng, RngCore};
use kakusan_protocol::{
    Card, SealingSecret, ServerKeys, ServerName, SigningSecret, Snowflake, VerifyKey,
    WebhookPolicy, WebhookUrl,
};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;

/// A deterministic generator (SHA-256 in counter mode) so that ids and sealed boxes in the
/// golden vectors are reproducible. It claims `CryptoRng` only because the sealing API demands
/// it; it is for tests alone.
pub(crate) struct TestRng {
    seed: [u8; 32],
    counter: u64,
    buffer: Vec<u8>,
}

impl TestRng {
    /// A generator seeded from a label, so each vector case has its own stream.
    pub(crate) fn new(label: &str) -> Self {
        Self {
            seed: Sha256::digest(label.as_bytes()).into(),
            counter: 0,
            buffer: Vec::new(),
        }
    }
}

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.buffer.is_empty() {
                let mut hasher = Sha256::new();
                hasher.update(self.seed);
                hasher.update(self.counter.to_le_bytes());
                self.counter += 1;
                self.buffer = hasher.finalize().to_vec();
            }
            *byte = self.buffer.remove(0);
        }
    }

    fn try_fill_bytes(
        &mut self,
        dest: &mut [u8],
    ) -> Result<(), kakusan_protocol::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for TestRng {}

/// The receiver's clock in every vector: 2027-01-15T08:00:00Z.
pub(crate) const NOW: i64 = 1_800_000_000;

/// [`NOW`] as a `DateTime`.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(NOW, 0).unwrap()
}

/// One test server with fixed keys.
pub(crate) struct Server {
    pub(crate) name: ServerName,
    pub(crate) guild: Snowflake,
    pub(crate) signing_seed: [u8; 32],
    pub(crate) sealing_secret: [u8; 32],
    pub(crate) webhook: String,
}

impl Server {
    pub(crate) fn keys(&self) -> ServerKeys {
        ServerKeys::new(
            SigningSecret::from_seed(self.signing_seed),
            SealingSecret::from_bytes(self.sealing_secret),
        )
    }

    pub(crate) fn verify_key(&self) -> VerifyKey {
        self.keys().verify_key()
    }

    pub(crate) fn card(&self) -> Card {
        let keys = self.keys();
        Card::new(
            self.name.clone(),
            self.guild,
            WebhookUrl::parse(&self.webhook, &WebhookPolicy::discord()).unwrap(),
            keys.verify_key(),
            keys.sealing_key(),
        )
    }
}

fn server(name: &str, index: u8) -> Server {
    let guild = 1_100_000_000_000_000_000 + u64::from(index);
    Server {
        name: ServerName::parse(name).unwrap(),
        guild: Snowflake::new(guild).unwrap(),
        signing_seed: [0x10 + index; 32],
        sealing_secret: [0x20 + index; 32],
        webhook: format!(
            "https://discord.com/api/webhooks/{}/{name}-master-token_{index}",
            1_200_000_000_000_000_000 + u64::from(index)
        ),
    }
}

/// The sender every positive vector comes from; a registered peer of `beta`.
pub(crate) fn alpha() -> Server {
    server("alpha", 1)
}

/// The receiver of every vector.
pub(crate) fn beta() -> Server {
    server("beta", 2)
}

/// A server `beta` has not registered.
pub(crate) fn gamma() -> Server {
    server("gamma", 3)
}

/// Beta's peers: alpha only.
pub(crate) fn beta_peers() -> HashMap<ServerName, VerifyKey> {
    HashMap::from([(alpha().name, alpha().verify_key())])
}
