//! The [`ReplayGuard`] on the database: replay protection that holds across restarts and is
//! shared by every process of a deployment.

use chrono::{DateTime, Utc};
use kakusan_storage::{PgPool, seen};

use kakusan_protocol::{EnvelopeId, ReplayError, ReplayGuard, ServerName};

/// Seen envelope ids of one of our servers, kept in the `seen_envelopes` table.
///
/// The table's primary key makes the check and the record one atomic insert, so two processes
/// receiving the same envelope cannot both accept it. Ids are stored with the envelope's send
/// time and may be pruned once it is older than [`kakusan_protocol::MAX_CLOCK_SKEW`].
#[derive(Debug, Clone)]
pub struct StoredReplayGuard {
    pool: PgPool,
    server_guild_id: u64,
}

impl StoredReplayGuard {
    /// The guard of our server in guild `server_guild_id`; the verifier's receiver is that
    /// server.
    pub fn new(pool: PgPool, server_guild_id: u64) -> Self {
        StoredReplayGuard {
            pool,
            server_guild_id,
        }
    }
}

impl ReplayGuard for StoredReplayGuard {
    fn first_sighting(
        &self,
        _receiver: &ServerName,
        id: &EnvelopeId,
        sent_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, ReplayError>> + Send {
        let pool = self.pool.clone();
        let server = self.server_guild_id;
        let id = id.to_string();
        async move {
            seen::record_seen_envelope(&pool, server, &id, sent_at)
                .await
                .map_err(ReplayError::new)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::TimeDelta;
    use kakusan_storage::servers::{self, NewServer};
    use kakusan_storage::{PrivateKey, SecretString};
    use rand_core::OsRng;

    use super::*;
    use kakusan_protocol::{Body, Envelope, Ping, ServerKeys, Verifier};

    #[sqlx::test(migrator = "kakusan_storage::MIGRATOR")]
    async fn a_replay_is_caught_by_another_process_and_after_a_restart(pool: PgPool) {
        servers::upsert_server(
            &pool,
            &NewServer {
                guild_id: 100,
                name: "beta",
                botcom_channel_id: 1,
                master_webhook_id: 2,
                master_webhook_token: &SecretString::new("t"),
                signing_key: &PrivateKey::new([1; 32]),
                sealing_key: &PrivateKey::new([2; 32]),
            },
        )
        .await
        .unwrap();
        let alpha = ServerName::parse("alpha").unwrap();
        let beta = ServerName::parse("beta").unwrap();
        let alpha_keys = ServerKeys::generate(&mut OsRng);
        let beta_keys = ServerKeys::generate(&mut OsRng);
        let now = Utc::now();
        let ping = Body::Ping(Ping::new(&mut OsRng, now));
        let wire = Envelope::new(alpha.clone(), beta.clone(), ping, now, &mut OsRng)
            .sign(alpha_keys.signing())
            .unwrap();
        let peers = HashMap::from([(alpha.clone(), alpha_keys.verify_key())]);

        // Two guards on one database: two processes, or one before and after a restart.
        let first = StoredReplayGuard::new(pool.clone(), 100);
        let second = StoredReplayGuard::new(pool.clone(), 100);
        let verifier = Verifier::new(&beta, beta_keys.sealing(), &peers, &first);
        verifier.verify(wire.as_str(), now).await.unwrap();
        let verifier = Verifier::new(&beta, beta_keys.sealing(), &peers, &second);
        let again = verifier.verify(wire.as_str(), now).await.unwrap_err();
        assert_eq!(again.rejection().unwrap().as_str(), "replayed");

        // Once the window is over, the id may go: the timestamp check rejects it by then.
        let pruned = seen::prune_seen_envelopes(&pool, now + TimeDelta::seconds(1))
            .await
            .unwrap();
        assert_eq!(pruned, 1);
        let stale = verifier
            .verify(wire.as_str(), now + TimeDelta::seconds(301))
            .await
            .unwrap_err();
        assert_eq!(stale.rejection().unwrap().as_str(), "stale");
    }
}
