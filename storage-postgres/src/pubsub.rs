use async_trait::async_trait;
use securecam_storage::{PubSub, StorageResult, Subscription};
use sqlx::postgres::PgListener;
use sqlx::PgPool;

/// The one channel every SecureCam node listens on.
pub const CHANNEL: &str = "securecam_bus";
/// Where the trigger on `notification_deliveries` announces queued jobs (empty payloads).
pub const DELIVERIES_CHANNEL: &str = "securecam_deliveries";

pub struct PgPubSub {
    pool: PgPool,
}

impl PgPubSub {
    pub fn new(pool: PgPool) -> Self {
        PgPubSub { pool }
    }

    /// Listens on `channel` on a connection of its own (outside the pool), held for as long
    /// as the subscription lives.
    pub async fn subscribe_to(&self, channel: &str) -> StorageResult<Box<dyn Subscription>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(channel).await?;
        Ok(Box::new(PgSubscription(listener)))
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
        self.subscribe_to(CHANNEL).await
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
