//! A write transaction, as every backend starts one (see `Backend::begin_write`).

use sqlx::Transaction;
use tokio::sync::OwnedSemaphorePermit;

/// A write transaction, holding whatever turn its backend makes writers take until it ends.
pub struct WriteTx<DB: sqlx::Database> {
    tx: Transaction<'static, DB>,
    _turn: Option<OwnedSemaphorePermit>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    /// `turn`: held until the transaction ends (SQLite's writers take turns, see its backend).
    pub fn new(tx: Transaction<'static, DB>, turn: Option<OwnedSemaphorePermit>) -> Self {
        WriteTx { tx, _turn: turn }
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }

    /// The transaction's connection, for statements the shared SQL does not cover.
    pub fn connection(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}
