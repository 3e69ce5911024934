//! The shared storage suite against SQLite: each story on a fresh database file.

use securecam_storage_sqlite::SqliteDatabase;

/// A fresh database file in a directory removed when the test ends.
async fn open() -> (SqliteDatabase, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    (SqliteDatabase::connect(&url).await.unwrap(), dir)
}

securecam_storage::conformance_tests!(open);

/// WAL, enforced foreign keys and a busy timeout on every connection; every foreign key is
/// the leading column of some index.
#[tokio::test]
async fn pragmas_and_foreign_key_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    let db = SqliteDatabase::connect(&url).await.unwrap();
    securecam_storage::Database::migrate(&db).await.unwrap();
    let pool = db.pool();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let fks: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(fks, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(busy >= 1000, "busy timeout {busy} ms");

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut checked = 0;
    let mut unindexed = Vec::new();
    for table in &tables {
        let fk_columns: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT \"from\" FROM pragma_foreign_key_list('{table}')"
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        let leading: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT ii.name FROM pragma_index_list('{table}') il, pragma_index_info(il.name) ii WHERE ii.seqno = 0"
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        for column in fk_columns {
            checked += 1;
            if !leading.contains(&column) {
                unindexed.push(format!("{table}.{column}"));
            }
        }
    }
    assert!(checked > 30, "the schema has its foreign keys: {checked}");
    assert!(
        unindexed.is_empty(),
        "foreign keys without an index: {unindexed:?}"
    );
    pool.close().await;
}
