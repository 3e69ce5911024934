//! The shared storage suite against PostgreSQL, in a fresh database for this run.

use securecam_storage_postgres::testing::TestDatabase;
use securecam_storage_postgres::PostgresDatabase;

#[tokio::test]
async fn storage_suite_on_postgres() {
    let test_db = TestDatabase::create().await;
    let db = PostgresDatabase::connect(test_db.url()).await.unwrap();
    securecam_storage::conformance::run_all(&db).await;
    db.pool().close().await;
}
