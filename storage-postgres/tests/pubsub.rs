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
