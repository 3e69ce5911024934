//! SecureCam's domain types and the [`Database`] trait.
//!
//! One crate per backend (`securecam-storage-sqlite`, `securecam-storage-postgres`) implements
//! the trait with its own SQL and migrations; everything above storage talks to
//! `Arc<dyn Database>` and never knows which one it has.

mod database;
mod error;
pub mod models;
mod page;
mod pubsub;
pub mod sql;
mod stores;
mod text_enum;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use database::{AuditStore, Database, DeviceStore, LinkStore, PairingStore, UserStore};
pub use error::{StorageError, StorageResult};
pub use models::*;
pub use page::{Cursor, Page, PageRequest};
pub use pubsub::{PubSub, Subscription, MAX_PUBSUB_PAYLOAD};
pub use stores::{
    CommandStore, DeliveryStore, EventStore, NotificationStore, RecordingStore, RelayStore,
    StreamStore, WebhookStore,
};

/// A new time-ordered id. Every row id is a UUIDv7, so ordering by id is ordering by creation
/// time, which is what keyset pagination relies on.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// The current time, truncated to microseconds: both databases keep microseconds, so a value
/// that went through the database compares equal to the one that was written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}

/// The smallest UUIDv7 of `at`'s millisecond: every row id made at or after `at` is at least
/// this, so `id >= id_floor(t)` bounds a keyset scan by time on the `(owner, id)` indexes.
pub fn id_floor(at: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    let millis = at.timestamp_millis().max(0) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70; // version 7
    bytes[8] = 0x80; // RFC 4122 variant
    uuid::Uuid::from_bytes(bytes)
}
