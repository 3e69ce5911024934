//! SQLite backend: the embedded default, so a household runs one binary with no services.
//!
//! Every store method is SecureCam's one SQL implementation
//! ([`securecam_storage::sql::SqlDatabase`]); this crate holds what is SQLite's own: WAL lets
//! readers proceed while one writer writes; `foreign_keys` is off by default in SQLite and
//! must be switched on per connection; the busy timeout makes a second writer wait instead of
//! failing with SQLITE_BUSY; write transactions take turns (see [`SqliteBackend`]).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use securecam_storage::sql::{Backend, SqlDatabase, WriteTx};
use securecam_storage::StorageResult;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::Semaphore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// SecureCam's database on SQLite.
pub type SqliteDatabase = SqlDatabase<SqliteBackend>;

#[derive(Clone, Debug)]
pub struct SqliteBackend {
    pool: SqlitePool,
    /// One write transaction at a time (see `begin_write`).
    write_turn: Arc<Semaphore>,
}

impl Backend for SqliteBackend {
    type DB = Sqlite;
    const NAME: &'static str = "sqlite";
    /// Write transactions take turns (see `begin_write`): no two claims ever overlap.
    const SKIP_LOCKED: &'static str = "";

    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://./data/securecam.db`.
    async fn connect(url: &str) -> StorageResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an OS crash can
            // lose the last transactions, which is the usual trade for an embedded server.
            // It also commits the relaxed writes without waiting for the disk, so this
            // backend needs no second pool for them.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        Ok(SqliteBackend {
            pool,
            write_turn: Arc::new(Semaphore::new(1)),
        })
    }

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// `BEGIN IMMEDIATE` takes the write lock up front: a deferred transaction that reads
    /// first can fail its later upgrade with SQLITE_BUSY when another connection wrote in
    /// between, and the busy timeout does not help there.
    ///
    /// Write transactions take turns here first. SQLite has one write lock; a connection that
    /// finds it taken sleeps in SQLite's busy handler (1, 2, 5, 10... ms) instead of being
    /// woken when it is free, which under load cost more than the writes themselves
    /// (BENCHMARKS.md). Single-statement writes do not queue here: they hold the lock for one
    /// statement only, and both queueing them too and funnelling every write through one
    /// connection were measured slower.
    async fn begin_write(&self) -> sqlx::Result<WriteTx<Sqlite>> {
        let turn = self
            .write_turn
            .clone()
            .acquire_owned()
            .await
            .expect("the write semaphore is never closed");
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx::new(tx, Some(turn)))
    }

    /// SQLite runs one write transaction at a time, which already serialises them.
    async fn lock_key<'t>(_tx: &'t mut WriteTx<Sqlite>, _key: &'t str) -> sqlx::Result<()> {
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
        self.pool.close().await;
    }
}
