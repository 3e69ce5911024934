//! Messages between the nodes of one deployment, through the database they already share
//! (PostgreSQL LISTEN/NOTIFY), so several signal processes behave as one without new
//! infrastructure. SQLite is one process by design and has none.

use async_trait::async_trait;

use crate::StorageResult;

/// Largest payload PostgreSQL's NOTIFY carries (8000 bytes), less room for safety.
pub const MAX_PUBSUB_PAYLOAD: usize = 7900;

#[async_trait]
pub trait PubSub: Send + Sync {
    /// Sends `payload` to every subscriber, including this node's own.
    async fn publish(&self, payload: &str) -> StorageResult<()>;
    /// Starts receiving what every node publishes from now on.
    async fn subscribe(&self) -> StorageResult<Box<dyn Subscription>>;
}

#[async_trait]
pub trait Subscription: Send {
    /// The next payload. After a lost connection it reconnects; what was published in
    /// between is lost, which every user of the bus must tolerate (commands are swept).
    async fn next(&mut self) -> StorageResult<String>;
}
