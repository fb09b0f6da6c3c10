//! Sessions handed from one process to the next: what a shard needs to RESUME.

use std::fmt;
use std::time::Duration;

use twilight_gateway::{Shard, ShardId};

/// How long after shutdown a saved session is still worth a RESUME.
///
/// Discord does not document how long it keeps a closed session; reports put it between one
/// and a few minutes (discord-api-docs#1619 saw sessions refused 90 s after a disconnect). A
/// RESUME that comes too late costs one round trip: Discord answers INVALID_SESSION and the
/// shard identifies, as it would have anyway. So the bound errs long, covering a slow restart
/// (a new image pulled, migrations run) without trying sessions from a process stopped long ago.
pub const RESUME_WINDOW: Duration = Duration::from_secs(5 * 60);

/// One shard's session as it was when the shard stopped: enough for the next process to resume
/// it and have Discord replay what happened in between.
#[derive(Clone, PartialEq, Eq)]
pub struct ShardSession {
    /// The shard, with the shard count the session was started for.
    pub shard: ShardId,
    /// Discord's id of the session.
    pub session_id: String,
    /// The sequence number of the last event handed to the handler.
    pub sequence: u64,
    /// READY's `resume_gateway_url`; `None` when the shard had lost it (it then resumes at
    /// the gateway URL it would identify at).
    pub resume_url: Option<String>,
}

impl ShardSession {
    /// The session `shard` holds now, if it has one.
    pub(crate) fn of<Q>(shard: &Shard<Q>) -> Option<Self> {
        let session = shard.session()?;
        Some(Self {
            shard: shard.id(),
            session_id: session.id().to_owned(),
            sequence: session.sequence(),
            resume_url: shard.resume_url().map(str::to_owned),
        })
    }
}

impl fmt::Debug for ShardSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a credential, but it names a live session of the bot; logs do without it.
        f.debug_struct("ShardSession")
            .field("shard", &self.shard)
            .field("session_id", &"<redacted>")
            .field("sequence", &self.sequence)
            .field("resume_url", &self.resume_url)
            .finish()
    }
}
