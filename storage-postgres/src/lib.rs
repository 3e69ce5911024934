//! PostgreSQL backend: production and multi-node. Native `uuid`, `jsonb` and `timestamptz`;
//! the migrations in `migrations/postgres` hold the indexes every list query relies on.
//!
//! Every store method is SecureCam's one SQL implementation
//! ([`securecam_storage::sql::SqlDatabase`]); this crate holds what is PostgreSQL's own: the
//! pool sizing, a second pool for relaxed commits, `SKIP LOCKED` claims, advisory locks, and
//! LISTEN/NOTIFY between nodes.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use securecam_storage::sql::{Backend, SqlDatabase, WriteTx};
use securecam_storage::{PubSub, StorageResult, Subscription};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

/// LISTEN/NOTIFY between the nodes of a deployment.
pub mod pubsub;
/// Throwaway databases for tests; small enough to ship in the library.
pub mod testing;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// SecureCam's database on PostgreSQL.
pub type PostgresDatabase = SqlDatabase<PostgresBackend>;

#[derive(Clone, Debug)]
pub struct PostgresBackend {
    pool: PgPool,
    /// Connections with `synchronous_commit = off`, for writes that may be lost in a database
    /// crash without harm because they are redone anyway: presence (true again at the next
    /// connect or heartbeat), marking a command dispatched (an unmarked one is sent again,
    /// and delivery is at-least-once) and messages to other nodes (best effort by design).
    /// Their commits skip the WAL flush, which a reconnect storm of thousands of devices
    /// otherwise waits on several times per device (BENCHMARKS.md). Everything else, an
    /// acknowledgement above all, commits durably.
    relaxed: PgPool,
}

/// Connects to `url`, e.g. `postgres://user:pass@host/securecam`, with a pool of
/// `max_connections` (and as many relaxed connections, opened when first needed).
pub async fn connect_with_pool_size(
    url: &str,
    max_connections: u32,
) -> StorageResult<PostgresDatabase> {
    let options = PgConnectOptions::from_str(url)?.application_name("securecam");
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    let relaxed = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options.options([("synchronous_commit", "off")]));
    Ok(SqlDatabase::new(PostgresBackend { pool, relaxed }))
}

/// Two connections per core of this machine. Measured on 2 cores (BENCHMARKS.md): 4
/// connections served more requests with a third of the tail latency than 16, because every
/// extra connection is another PostgreSQL process competing for the same cores.
pub fn default_pool_size() -> u32 {
    std::thread::available_parallelism().map_or(4, |n| 2 * n.get() as u32)
}

impl Backend for PostgresBackend {
    type DB = Postgres;
    const NAME: &'static str = "postgres";
    /// Workers claiming jobs at the same moment skip each other's rows instead of queueing.
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";

    /// Connects with the default pool size, [`default_pool_size`].
    async fn connect(url: &str) -> StorageResult<Self> {
        let db = connect_with_pool_size(url, default_pool_size()).await?;
        Ok(db.backend().clone())
    }

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// See [`PostgresBackend::relaxed`].
    fn relaxed_pool(&self) -> &PgPool {
        &self.relaxed
    }

    async fn begin_write(&self) -> sqlx::Result<WriteTx<Postgres>> {
        Ok(WriteTx::new(self.pool.begin().await?, None))
    }

    async fn lock_key<'t>(tx: &'t mut WriteTx<Postgres>, key: &'t str) -> sqlx::Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(key)
            .execute(tx.connection())
            .await?;
        Ok(())
    }

    async fn migrate(&self) -> StorageResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    async fn close(&self) {
        self.relaxed.close().await;
        self.pool.close().await;
    }

    fn pubsub(&self) -> Option<Arc<dyn PubSub>> {
        Some(Arc::new(pubsub::PgPubSub::new(self.relaxed.clone())))
    }

    async fn subscribe_deliveries(&self) -> StorageResult<Option<Box<dyn Subscription>>> {
        let listener = pubsub::PgPubSub::new(self.pool.clone());
        Ok(Some(
            listener.subscribe_to(pubsub::DELIVERIES_CHANNEL).await?,
        ))
    }
}
