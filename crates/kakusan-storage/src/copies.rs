//! The copy map: where each delivered copy of a member's message lives.

use sqlx::PgExecutor;

use crate::StorageError;
use crate::ids::sf;

/// Records that `source_message_id` was delivered to `destination_id` as `copy_message_id`.
/// A send that ran twice (a crash between Discord's reply and the commit) keeps the newest.
pub async fn record_copy(
    executor: impl PgExecutor<'_>,
    destination_id: i64,
    source_message_id: u64,
    copy_message_id: u64,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO copies (destination_id, source_message_id, copy_message_id)
         VALUES ($1, $2, $3)
         ON CONFLICT (destination_id, source_message_id)
         DO UPDATE SET copy_message_id = EXCLUDED.copy_message_id, delivered_at = now()",
    )
    .bind(destination_id)
    .bind(sf(source_message_id)?)
    .bind(sf(copy_message_id)?)
    .execute(executor)
    .await?;
    Ok(())
}

/// The copy of `source_message_id` at `destination_id`, if one was delivered.
pub async fn copy_of(
    executor: impl PgExecutor<'_>,
    destination_id: i64,
    source_message_id: u64,
) -> Result<Option<u64>, StorageError> {
    let copy: Option<i64> = sqlx::query_scalar(
        "SELECT copy_message_id FROM copies WHERE destination_id = $1 AND source_message_id = $2",
    )
    .bind(destination_id)
    .bind(sf(source_message_id)?)
    .fetch_optional(executor)
    .await?;
    Ok(copy.map(|id| id as u64))
}

/// Every delivered copy of `source_message_id`: `(destination id, copy message id)`.
pub async fn copies_of(
    executor: impl PgExecutor<'_>,
    source_message_id: u64,
) -> Result<Vec<(i64, u64)>, StorageError> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT destination_id, copy_message_id FROM copies WHERE source_message_id = $1
         ORDER BY destination_id",
    )
    .bind(sf(source_message_id)?)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(dest, copy)| (dest, copy as u64))
        .collect())
}

/// Forgets the copy at `destination_id` once it was deleted there.
pub async fn forget_copy(
    executor: impl PgExecutor<'_>,
    destination_id: i64,
    source_message_id: u64,
) -> Result<bool, StorageError> {
    let result =
        sqlx::query("DELETE FROM copies WHERE destination_id = $1 AND source_message_id = $2")
            .bind(destination_id)
            .bind(sf(source_message_id)?)
            .execute(executor)
            .await?;
    Ok(result.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::PgPool;

    use super::*;
    use crate::destinations::{self, Announced};
    use crate::outbox::{self, CopyChange, Operation};
    use crate::{SecretString, fixtures};

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn copies_are_recorded_found_and_forgotten(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let peer = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let token = SecretString::new("tok");
        let mut ids = Vec::new();
        for member in [7, 8] {
            let announced = Announced {
                member_id: member,
                member_name: "Taro",
                channel_id: member,
                thread_id: None,
                webhook_id: member,
                webhook_token: &token,
            };
            ids.push(
                destinations::announce(&pool, peer.id, &announced, None)
                    .await
                    .unwrap(),
            );
        }
        record_copy(&pool, ids[0], 5000, 6000).await.unwrap();
        record_copy(&pool, ids[1], 5000, 6001).await.unwrap();
        record_copy(&pool, ids[0], 5000, 6002).await.unwrap();
        assert_eq!(copy_of(&pool, ids[0], 5000).await.unwrap(), Some(6002));
        assert_eq!(copy_of(&pool, ids[0], 5001).await.unwrap(), None);
        assert_eq!(
            copies_of(&pool, 5000).await.unwrap(),
            vec![(ids[0], 6002), (ids[1], 6001)]
        );
        assert!(forget_copy(&pool, ids[0], 5000).await.unwrap());
        assert!(!forget_copy(&pool, ids[0], 5000).await.unwrap());
        assert_eq!(copies_of(&pool, 5000).await.unwrap(), vec![(ids[1], 6001)]);
    }

    /// A job of member 7's message 5000 to `destination`, enqueued and claimed by worker `w`.
    async fn claimed(pool: &PgPool, destination: i64, operation: Operation) -> i64 {
        let payload = serde_json::json!({});
        let job = outbox::NewJob {
            server_guild_id: 100,
            lane: 7,
            target: outbox::Target::Destination(destination),
            operation,
            source_message_id: Some(5000),
            relay_id: None,
            member_id: Some(7),
            payload: &payload,
            scheduled_for: None,
        };
        let id = outbox::enqueue(pool, &job).await.unwrap();
        let claimed = outbox::claim(pool, "w", Duration::from_secs(30), 1)
            .await
            .unwrap();
        assert_eq!(claimed[0].id, id);
        id
    }

    /// A finished job's copy is recorded or forgotten in the statement that completes it, and
    /// the copy map changes even when the lease was lost, since the call was made.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn copies_change_with_the_completion_of_their_job(pool: PgPool) {
        fixtures::server(&pool, 100, "alpha").await;
        let peer = fixtures::mutual_peer(&pool, 100, "beta", 200).await;
        let announced = Announced {
            member_id: 7,
            member_name: "Taro",
            channel_id: 7,
            thread_id: None,
            webhook_id: 7,
            webhook_token: &SecretString::new("tok"),
        };
        let destination = destinations::announce(&pool, peer.id, &announced, None)
            .await
            .unwrap();
        let send = claimed(&pool, destination, Operation::Send).await;
        let record = CopyChange::Record {
            destination_id: destination,
            source_message_id: 5000,
            copy_message_id: 6000,
        };
        assert!(
            outbox::complete_with_copy(&pool, send, "w", record)
                .await
                .unwrap()
        );
        assert_eq!(copy_of(&pool, destination, 5000).await.unwrap(), Some(6000));
        assert!(
            outbox::pending_jobs(&pool, 100, None)
                .await
                .unwrap()
                .is_empty()
        );

        let delete = claimed(&pool, destination, Operation::Delete).await;
        let forget = CopyChange::Forget {
            destination_id: destination,
            source_message_id: 5000,
        };
        assert!(
            !outbox::complete_with_copy(&pool, delete, "other", forget)
                .await
                .unwrap(),
            "not other's job"
        );
        assert_eq!(copy_of(&pool, destination, 5000).await.unwrap(), None);
    }
}
