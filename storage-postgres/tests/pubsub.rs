//! LISTEN/NOTIFY between nodes: every payload of a batch arrives, in order, at every
//! subscriber, including the publisher's own.

use std::time::Duration;

use securecam_storage::Database;
use securecam_storage_postgres::testing::TestDatabase;
use securecam_storage_postgres::PostgresDatabase;

#[tokio::test]
async fn batches_arrive_whole_and_in_order() {
    let test_db = TestDatabase::create().await;
    let node_a = PostgresDatabase::connect(test_db.url()).await.unwrap();
    let node_b = PostgresDatabase::connect(test_db.url()).await.unwrap();
    let mut a = node_a.pubsub().unwrap().subscribe().await.unwrap();
    let mut b = node_b.pubsub().unwrap().subscribe().await.unwrap();

    let first: Vec<String> = (0..300).map(|i| format!("message {i}")).collect();
    let publisher = node_a.pubsub().unwrap();
    publisher.publish(&first).await.unwrap();
    publisher.publish(&["last".to_string()]).await.unwrap();

    for subscription in [&mut a, &mut b] {
        for expected in first.iter().chain(std::iter::once(&"last".to_string())) {
            let got = tokio::time::timeout(Duration::from_secs(5), subscription.next())
                .await
                .expect("delivered within 5 s")
                .unwrap();
            assert_eq!(&got, expected);
        }
    }
}

/// The trigger on `notification_deliveries` wakes every process's notifier when a
/// transaction that queued jobs commits, and never for one that rolled back.
#[tokio::test]
async fn queued_jobs_wake_other_processes_at_commit_only() {
    let test_db = TestDatabase::create().await;
    let db = PostgresDatabase::connect(test_db.url()).await.unwrap();
    db.migrate().await.unwrap();
    let mut wakeups = db
        .subscribe_deliveries()
        .await
        .unwrap()
        .expect("PostgreSQL has them");
    let user: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO users (id, email, name, email_verified, created_at, updated_at) \
         VALUES ($1, 'w@example.com', 'W', false, now(), now()) RETURNING id",
    )
    .bind(securecam_storage::new_id())
    .fetch_one(db.pool())
    .await
    .unwrap();
    let endpoint: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO webhook_endpoints (id, owner_user_id, url, events, secret, created_at, updated_at) \
         VALUES ($1, $2, 'https://hooks.example/w', '[]', 'whsec_x', now(), now()) RETURNING id",
    )
    .bind(securecam_storage::new_id())
    .bind(user)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let mut rolled_back = db.pool().begin().await.unwrap();
    queue(&mut rolled_back, user, endpoint).await.unwrap();
    rolled_back.rollback().await.unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(500), wakeups.next()).await;
    assert!(nothing.is_err(), "a rolled-back job wakes nobody");

    let mut committed = db.pool().begin().await.unwrap();
    queue(&mut committed, user, endpoint).await.unwrap();
    queue(&mut committed, user, endpoint).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), wakeups.next()).await;
    assert!(early.is_err(), "nothing before the commit");
    committed.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), wakeups.next())
        .await
        .expect("woken at the commit")
        .unwrap();
}

async fn queue(
    conn: &mut sqlx::PgConnection,
    user: uuid::Uuid,
    endpoint: uuid::Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notification_deliveries (id, owner_user_id, webhook_endpoint_id, type, payload, \
         status, attempts, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'webhook', '{}', 'pending', 0, now(), now(), now())",
    )
    .bind(securecam_storage::new_id())
    .bind(user)
    .bind(endpoint)
    .execute(conn)
    .await?;
    Ok(())
}
