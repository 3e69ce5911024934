//! Messages between the nodes of one deployment, through the database they already share
//! (PostgreSQL LISTEN/NOTIFY), so several signal processes behave as one without new
//! infrastructure. SQLite is one process by design and has none.

use async_trait::async_trait;

use crate::StorageResult;

/// Largest payload PostgreSQL's NOTIFY carries (8000 bytes), less room for safety.
pub const MAX_PUBSUB_PAYLOAD: usize = 7900;

#[async_trait]
pub trait PubSub: Send + Sync {
    /// Sends each payload, in order, to every subscriber, including this node's own. A
    /// batch is one round trip, which is what keeps a reconnect storm of thousands of devices
    /// from queueing one database call per announcement. Identical payloads within one batch
    /// may arrive once (PostgreSQL folds duplicate notifications of a transaction), so a
    /// payload must mean the same however often it is received.
    async fn publish(&self, payloads: &[String]) -> StorageResult<()>;
    /// Starts receiving what every node publishes from now on.
    async fn subscribe(&self) -> StorageResult<Box<dyn Subscription>>;
}

#[async_trait]
pub trait Subscription: Send {
    /// The next payload. After a lost connection it reconnects; what was published in
    /// between is lost, which every user of the bus must tolerate (commands are swept).
    async fn next(&mut self) -> StorageResult<String>;
}
