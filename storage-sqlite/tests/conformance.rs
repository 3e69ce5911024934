//! The shared storage suite against SQLite, one fresh database file per run.

use securecam_storage_sqlite::SqliteDatabase;

#[tokio::test]
async fn storage_suite_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    let db = SqliteDatabase::connect(&url).await.unwrap();
    securecam_storage::conformance::run_all(&db).await;
    db.pool().close().await;
}
