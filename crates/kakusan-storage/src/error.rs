//! The storage error type: constraint violations become domain variants.

use thiserror::Error;

/// What can go wrong in a storage call.
///
/// Constraint violations are named after the rule the caller broke, so a command can answer
/// the member in plain words; everything else keeps the `sqlx` error as its source.
#[derive(Debug, Error)]
pub enum StorageError {
    /// Another server of this deployment already uses the federation name.
    #[error("the server name is already taken")]
    DuplicateServerName,
    /// A server name that does not match `[a-z0-9-]{2,32}`.
    #[error("a server name is 2 to 32 characters of a-z, 0-9 and '-'")]
    InvalidServerName,
    /// This server already knows a peer with that name or guild.
    #[error("that peer is already registered")]
    DuplicatePeer,
    /// The member already has a times in this server.
    #[error("the member already has a times channel in this server")]
    DuplicateTimes,
    /// The channel is already somebody's times.
    #[error("the channel is already a times channel")]
    ChannelTaken,
    /// The row the call refers to does not exist (any more).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A Discord id that does not fit Postgres' BIGINT; Discord never issues one.
    #[error("the id {0} is out of range")]
    IdOutOfRange(u64),
    /// A stored value this version cannot read (written by hand, or by a newer version).
    #[error("a stored {0} is not valid")]
    CorruptRow(&'static str),
    /// A key that is not 32 bytes long.
    #[error("a key must be 32 bytes long")]
    BadKeyLength,
    /// The database cannot be reached; nothing was written.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Any other database error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl StorageError {
    /// Whether the caller may simply try again later (the database was unreachable).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            match db.constraint() {
                Some("servers_name_key") => return StorageError::DuplicateServerName,
                Some("servers_name_format" | "peers_name_format") => {
                    return StorageError::InvalidServerName;
                }
                Some("peers_server_name_key" | "peers_server_guild_key") => {
                    return StorageError::DuplicatePeer;
                }
                Some("times_server_member_key") => return StorageError::DuplicateTimes,
                Some("times_channel_key") => return StorageError::ChannelTaken,
                Some("servers_keys_length" | "peers_keys_length") => {
                    return StorageError::BadKeyLength;
                }
                _ => {}
            }
        }
        if means_unavailable(&error) {
            StorageError::Unavailable(error)
        } else {
            StorageError::Database(error)
        }
    }
}

/// Whether a sqlx error only says that the database cannot be reached now (no connection, a
/// broken one, the pool's wait ran out), as opposed to a query it refused. Callers that hold a
/// raw `sqlx::Error` (a transaction they began themselves) use it to tell an outage apart.
pub fn means_unavailable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}
