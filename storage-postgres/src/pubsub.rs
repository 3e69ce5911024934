use async_trait::async_trait;
use securecam_storage::{PubSub, StorageResult, Subscription};
use sqlx::postgres::PgListener;
use sqlx::PgPool;

/// The one channel every SecureCam node listens on.
pub const CHANNEL: &str = "securecam_bus";

pub struct PgPubSub {
    pool: PgPool,
}

impl PgPubSub {
    pub fn new(pool: PgPool) -> Self {
        PgPubSub { pool }
    }
}

#[async_trait]
impl PubSub for PgPubSub {
    async fn publish(&self, payloads: &[String]) -> StorageResult<()> {
        // Notifications of one transaction are delivered in the order they were sent.
        sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS p(payload, n) ORDER BY n")
            .bind(CHANNEL)
            .bind(payloads)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscribe(&self) -> StorageResult<Box<dyn Subscription>> {
        // A connection of its own (outside the pool), held for as long as we listen.
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Box::new(PgSubscription(listener)))
    }
}

struct PgSubscription(PgListener);

#[async_trait]
impl Subscription for PgSubscription {
    async fn next(&mut self) -> StorageResult<String> {
        // PgListener reconnects by itself on the next call after a lost connection.
        let notification = self.0.recv().await?;
        Ok(notification.payload().to_string())
    }
}
