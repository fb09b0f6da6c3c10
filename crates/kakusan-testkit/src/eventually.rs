//! The one way tests wait for something that happens in another task or process: poll a probe
//! until it answers, with an explicit deadline, instead of sleeping for a guessed time.

use std::fmt::Display;
use std::time::Duration;

/// How long a test waits for something that should happen within a second or two. Generous,
/// because the machine that runs the tests may be busy with other builds.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How often [`eventually`] asks again: soon enough that a test reacts within a few
/// milliseconds of what it waits for, rarely enough not to crowd a small machine.
const POLL: Duration = Duration::from_millis(20);

/// What a probe of [`eventually`] answers: whether the awaited thing happened, and if so, what
/// it gave.
pub trait Outcome {
    /// What [`eventually`] returns once the probe succeeds.
    type Value;

    /// `Ok` once the awaited thing happened; otherwise `Err` with what the probe saw instead,
    /// if it said, for the failure message.
    fn into_result(self) -> Result<Self::Value, Option<String>>;
}

/// `true` once the condition holds.
impl Outcome for bool {
    type Value = ();

    fn into_result(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

/// `Some(value)` once the value is there.
impl<T> Outcome for Option<T> {
    type Value = T;

    fn into_result(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

/// `Ok(value)` once the value is there; `Err` says what the probe saw instead, and the last
/// one is in the failure message.
impl<T, E: Display> Outcome for Result<T, E> {
    type Value = T;

    fn into_result(self) -> Result<T, Option<String>> {
        self.map_err(|seen| Some(seen.to_string()))
    }
}

/// Polls `probe` until it succeeds and returns what it gave; panics naming `what` (and what the
/// probe last saw, if it says) once `within` has passed.
pub async fn eventually<O: Outcome>(
    within: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> O,
) -> O::Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = match probe().await.into_result() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if tokio::time::Instant::now() >= deadline {
            match seen {
                Some(seen) => panic!("waited {within:?} for {what}; the last probe saw {seen}"),
                None => panic!("waited {within:?} for {what}"),
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
