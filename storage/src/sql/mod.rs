//! The one SQL implementation of every store, for SQLite and PostgreSQL alike.
//!
//! [`SqlDatabase`] implements [`crate::Database`] once, generic over a [`Backend`]: the
//! backend crates (`securecam-storage-sqlite`, `securecam-storage-postgres`) hold only what
//! truly differs between the engines. The SQL here is portable (`$n` parameters,
//! `RETURNING`, `ON CONFLICT`, subqueries in `UPDATE`). Rules written once and used by every
//! store: who may see what ([`access`]) and keyset pagination ([`keyset`]).

pub mod access;
mod audit;
mod backend;
mod commands;
mod deliveries;
mod devices;
mod dialect;
mod events;
mod keyset;
mod links;
mod notifications;
mod pairing;
mod recordings;
mod relays;
mod streams;
mod transaction;
mod users;

use std::sync::Arc;

use async_trait::async_trait;

pub use backend::Backend;
pub use dialect::{query, query_scalar, Dialect, Exec, IntoExec, Model, Query, Scalar, Value};
pub use transaction::WriteTx;

use crate::{PubSub, StorageResult, Subscription};

/// Every store on one database engine `B`.
pub struct SqlDatabase<B: Backend> {
    backend: B,
    /// Wakes this process's notifier when a transaction here queued delivery jobs (other
    /// processes hear of them through the backend's `subscribe_deliveries`).
    deliveries: Arc<tokio::sync::Notify>,
}

impl<B: Backend> SqlDatabase<B> {
    pub fn new(backend: B) -> Self {
        SqlDatabase {
            backend,
            deliveries: Default::default(),
        }
    }

    /// Connects to `url` (see [`Backend::connect`]).
    pub async fn connect(url: &str) -> StorageResult<Self> {
        Ok(Self::new(B::connect(url).await?))
    }

    /// The engine-specific part.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The pool, for tests and tools that run their own SQL.
    pub fn pool(&self) -> &sqlx::Pool<B::DB> {
        self.backend.pool()
    }

    fn relaxed_pool(&self) -> &sqlx::Pool<B::DB> {
        self.backend.relaxed_pool()
    }

    async fn begin_write(&self) -> sqlx::Result<WriteTx<B::DB>> {
        self.backend.begin_write().await
    }
}

impl<B: Backend + std::fmt::Debug> std::fmt::Debug for SqlDatabase<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlDatabase")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<B: Backend> crate::Database for SqlDatabase<B> {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn migrate(&self) -> StorageResult<()> {
        self.backend.migrate().await
    }

    async fn ready(&self) -> StorageResult<bool> {
        query::<B::DB>("SELECT 1").execute(self.pool()).await?;
        // No migrations table yet means nothing is applied: not ready, but not an error.
        let applied: Vec<i64> = query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(self.pool())
            .await
            .unwrap_or_default();
        Ok(B::migrator().iter().all(|m| applied.contains(&m.version)))
    }

    async fn close(&self) {
        self.backend.close().await
    }

    fn pubsub(&self) -> Option<Arc<dyn PubSub>> {
        self.backend.pubsub()
    }

    fn deliveries_queued(&self) -> Arc<tokio::sync::Notify> {
        self.deliveries.clone()
    }

    async fn subscribe_deliveries(&self) -> StorageResult<Option<Box<dyn Subscription>>> {
        self.backend.subscribe_deliveries().await
    }
}

/// What every store file uses.
mod prelude {
    pub(super) use super::audit::write_audit;
    pub(super) use super::keyset::keyset;
    pub(super) use super::{query, query_scalar, Backend, Dialect, SqlDatabase, WriteTx};
    pub(super) use async_trait::async_trait;
    pub(super) use chrono::{DateTime, Utc};
    pub(super) use uuid::Uuid;
}
