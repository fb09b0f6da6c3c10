//! A throw-away database of its own on the PostgreSQL server `DATABASE_URL` names, for tests
//! and benchmarks that need a whole database rather than `#[sqlx::test]`'s.

use sqlx::{Connection, PgConnection};

fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is set by .cargo/config.toml or the caller")
}

/// A database of its own for one test, dropped when the value goes.
pub struct TestDatabase {
    /// Its name, `kakusan_test_` and a random suffix.
    pub name: String,
    /// Its connection URL, `DATABASE_URL` with the path replaced by the name.
    pub url: String,
}

impl TestDatabase {
    /// Creates an empty database (no migrations applied).
    pub async fn create() -> Self {
        let name = format!("kakusan_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url()).unwrap();
        url.set_path(&name);
        TestDatabase {
            name,
            url: url.to_string(),
        }
    }

    /// A connection of its own to the database.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside the test's runtime; a small one of its own does the clean-up.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            });
        })
        .join();
    }
}
