//! Keyset pagination, newest first, written once for every list: ids are UUIDv7, so "older
//! than the cursor" is `id < cursor`, and the `(owner, id)` indexes serve it.

use super::dialect::{Dialect, IntoExec, Model, Query};
use crate::{Page, PageRequest};

/// The end of a list query: the page condition and order, with the cursor as `$n` and the
/// limit as `$n+1`. `id` names the id column (`"id"`, or `"n.id"` in a join).
pub(crate) fn keyset(id: &str, n: usize) -> String {
    format!(
        "(${n} IS NULL OR {id} < ${n}) ORDER BY {id} DESC LIMIT ${}",
        n + 1
    )
}

impl<'q, DB: Dialect> Query<'q, DB> {
    /// Binds the cursor and the limit of [`keyset`] (its `$n` and `$n+1`), fetches one more
    /// row than the page holds to know whether another page follows, and builds the page.
    pub(crate) async fn fetch_page<'e, O: Model>(
        self,
        page: PageRequest,
        on: impl IntoExec<'e, DB>,
        id_of: impl Fn(&O) -> uuid::Uuid,
    ) -> sqlx::Result<Page<O>> {
        let rows = self
            .bind(page.after.map(|cursor| cursor.0))
            .bind(page.fetch_limit())
            .fetch_all(on)
            .await?;
        Ok(Page::from_rows(rows, page, id_of))
    }
}
