//! Generation of Discord-style snowflake ids.
//!
//! Discord ids encode the creation time in milliseconds since the Discord epoch in their top 42
//! bits, so ids sort by creation time. Clients (twilight included) may read the timestamp back out
//! of an id, so the simulator produces ids of the same shape rather than small counters.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds between the Unix epoch and the Discord epoch (2015-01-01T00:00:00Z).
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// Hands out increasing snowflakes; kept inside the world lock so no atomics are needed.
#[derive(Debug, Default)]
pub(crate) struct SnowflakeGen {
    /// The last id handed out, so the next one is strictly greater even within one millisecond.
    last: u64,
}

impl SnowflakeGen {
    /// Returns a new id that is greater than every id returned before.
    pub(crate) fn next(&mut self) -> u64 {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(DISCORD_EPOCH_MS);
        // Worker id 1, process id 0 and a 12-bit increment, as Discord's own layout has them.
        let candidate = (now_ms.saturating_sub(DISCORD_EPOCH_MS) << 22) | (1 << 17);
        self.last = candidate.max(self.last + 1);
        self.last
    }
}

/// The Unix time in milliseconds at which a snowflake was made.
pub(crate) fn timestamp_ms(id: u64) -> u64 {
    (id >> 22) + DISCORD_EPOCH_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_carry_the_current_time() {
        let mut generator = SnowflakeGen::default();
        let a = generator.next();
        let b = generator.next();
        assert!(b > a);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(now.abs_diff(timestamp_ms(b)) < 5_000);
    }
}
