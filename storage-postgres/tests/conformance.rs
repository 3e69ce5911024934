//! The shared storage suite against PostgreSQL, in a fresh database created for this run on
//! the server named by `SECURECAM_TEST_POSTGRES_URL` (`./scripts/test` provides one).

use securecam_storage_postgres::PostgresDatabase;
use sqlx::Connection;

#[tokio::test]
async fn storage_suite_on_postgres() {
    let admin_url = std::env::var("SECURECAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let name = format!("securecam_storage_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL for tests: run ./scripts/test or set SECURECAM_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();

    let url = database_url(&admin_url, &name);
    let db = PostgresDatabase::connect(&url).await.unwrap();
    securecam_storage::conformance::run_all(&db).await;
    db.pool().close().await;

    sqlx::query(&format!("DROP DATABASE {name}")).execute(&mut admin).await.unwrap();
}

/// The admin URL with its database name replaced.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
