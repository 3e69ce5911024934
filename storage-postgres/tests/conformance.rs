//! The shared storage suite against PostgreSQL: each story in a fresh database.

use securecam_storage_postgres::testing::TestDatabase;
use securecam_storage_postgres::PostgresDatabase;

/// A fresh database, dropped when the test ends.
async fn open() -> (PostgresDatabase, TestDatabase) {
    let test_db = TestDatabase::create().await;
    (
        PostgresDatabase::connect(test_db.url()).await.unwrap(),
        test_db,
    )
}

securecam_storage::conformance_tests!(open);

/// Every foreign key is the leading column of some index: deletes of the parent and joins
/// from it never scan the child table.
#[tokio::test]
async fn every_foreign_key_is_indexed() {
    let test_db = TestDatabase::create().await;
    let db = PostgresDatabase::connect(test_db.url()).await.unwrap();
    securecam_storage::Database::migrate(&db).await.unwrap();
    let fk_count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(fk_count > 30, "the schema has its foreign keys: {fk_count}");
    let unindexed: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, a.attname::text
         FROM pg_constraint c
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f'
           AND NOT EXISTS (SELECT 1 FROM pg_index i
                           WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert!(
        unindexed.is_empty(),
        "foreign keys without an index: {unindexed:?}"
    );
    db.pool().close().await;
}
