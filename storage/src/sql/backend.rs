//! What truly differs between the databases, and nothing else: each backend crate implements
//! [`Backend`] (connecting, how a write transaction starts, row locking for job claims,
//! advisory locks, migrations, messages between nodes) and gets every store method from
//! [`super::SqlDatabase`].

use std::future::Future;
use std::sync::Arc;

use sqlx::Pool;

use super::dialect::Dialect;
use super::transaction::WriteTx;
use crate::{PubSub, StorageResult, Subscription};

/// One database engine, as the shared SQL needs it.
pub trait Backend: Send + Sync + 'static {
    type DB: Dialect;

    /// `"sqlite"` or `"postgres"`, for logs and metrics.
    const NAME: &'static str;

    /// Appended to a claim's `SELECT`: workers claiming at the same moment skip each other's
    /// rows instead of queueing (PostgreSQL's `FOR UPDATE SKIP LOCKED`; SQLite has one writer
    /// at a time, so nothing).
    const SKIP_LOCKED: &'static str;

    /// Connects to `url` with the backend's default settings.
    fn connect(url: &str) -> impl Future<Output = StorageResult<Self>> + Send
    where
        Self: Sized;

    /// The pool every read and single-statement write uses.
    fn pool(&self) -> &Pool<Self::DB>;

    /// Connections for writes that may be lost in a database crash without harm because they
    /// are redone anyway (presence, a command marked dispatched, messages to other nodes).
    fn relaxed_pool(&self) -> &Pool<Self::DB> {
        self.pool()
    }

    /// A transaction that will write.
    fn begin_write(&self) -> impl Future<Output = sqlx::Result<WriteTx<Self::DB>>> + Send;

    /// Serialises the transactions that replace the rows of one `key` until `tx` ends (two
    /// replacements of a password-reset secret must not both survive).
    fn lock_key<'t>(
        tx: &'t mut WriteTx<Self::DB>,
        key: &'t str,
    ) -> impl Future<Output = sqlx::Result<()>> + Send + 't;

    /// Applies pending migrations.
    fn migrate(&self) -> impl Future<Output = StorageResult<()>> + Send;

    /// The backend's migrations (`migrations/<backend>`).
    fn migrator() -> &'static sqlx::migrate::Migrator;

    /// Closes the pools after in-flight queries finish.
    fn close(&self) -> impl Future<Output = ()> + Send;

    /// Messages between the nodes sharing this database (`None`: one process).
    fn pubsub(&self) -> Option<Arc<dyn PubSub>> {
        None
    }

    /// Wakes on delivery jobs queued by any process (`None`: every writer is this process).
    fn subscribe_deliveries(
        &self,
    ) -> impl Future<Output = StorageResult<Option<Box<dyn Subscription>>>> + Send {
        async { Ok(None) }
    }
}
