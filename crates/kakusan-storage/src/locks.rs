//! Session-level advisory locks: which process owns what across a scaled-out deployment.
//!
//! A lock is named by two numbers, a namespace (what kind of thing) and a key (which one), and
//! belongs to the connection that took it: it must be taken and released on one dedicated
//! connection, never on a pool (a pooled connection goes back with its locks). When the process
//! dies its connection drops and PostgreSQL frees the lock, which is what lets another worker
//! take over a dead worker's partitions. Locks are per database: each deployment has its own.

use sqlx::{PgConnection, PgExecutor};

use crate::StorageError;

/// Takes lock (`namespace`, `key`) on `connection` if no other session holds it. Returns
/// whether it was taken; taking a lock this connection already holds succeeds (and must then
/// be released twice).
pub async fn try_lock(
    connection: &mut PgConnection,
    namespace: i32,
    key: i32,
) -> Result<bool, StorageError> {
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(namespace)
        .bind(key)
        .fetch_one(connection)
        .await?;
    Ok(taken)
}

/// Waits until lock (`namespace`, `key`) is free and takes it on `connection`.
pub async fn lock(
    connection: &mut PgConnection,
    namespace: i32,
    key: i32,
) -> Result<(), StorageError> {
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(namespace)
        .bind(key)
        .execute(connection)
        .await?;
    Ok(())
}

/// Releases lock (`namespace`, `key`) held by `connection`. Returns whether it was held.
pub async fn unlock(
    connection: &mut PgConnection,
    namespace: i32,
    key: i32,
) -> Result<bool, StorageError> {
    let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1, $2)")
        .bind(namespace)
        .bind(key)
        .fetch_one(connection)
        .await?;
    Ok(released)
}

/// How many locks of `namespace` are held in this database, by any session.
pub async fn held(executor: impl PgExecutor<'_>, namespace: i32) -> Result<i64, StorageError> {
    // The two-number form puts the namespace in `classid` and the key in `objid`, with
    // `objsubid` 2 (the one-bigint form uses 1).
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 2
           AND classid = $1::int4::oid
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(namespace)
    .fetch_one(executor)
    .await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection as _, PgPool};

    use super::*;

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_lock_has_one_holder_and_frees_when_its_connection_drops(pool: PgPool) {
        let mut first = pool.acquire().await.unwrap().detach();
        let mut second = pool.acquire().await.unwrap().detach();
        assert!(try_lock(&mut first, 41, 3).await.unwrap());
        assert!(
            !try_lock(&mut second, 41, 3).await.unwrap(),
            "held by first"
        );
        assert!(try_lock(&mut second, 41, 4).await.unwrap(), "another key");
        assert!(
            try_lock(&mut second, 42, 3).await.unwrap(),
            "another namespace"
        );
        assert_eq!(held(&pool, 41).await.unwrap(), 2);
        assert!(unlock(&mut second, 41, 4).await.unwrap());
        assert!(!unlock(&mut second, 41, 4).await.unwrap(), "no longer held");
        assert_eq!(held(&pool, 41).await.unwrap(), 1);
        // A dead process: its connection closes and the lock is free.
        first.close().await.unwrap();
        lock(&mut second, 41, 3).await.unwrap();
        assert_eq!(held(&pool, 41).await.unwrap(), 1);
    }
}
