//! The audit trail: a row for every sensitive action, written in the action's transaction.

use super::prelude::*;
use crate::{AuditLog, NewAuditLog, Page, PageRequest, StorageResult};

const AUDIT_COLUMNS: &str =
    "id, owner_user_id, actor_device_id, action, target_type, target_id, metadata, ip_address, created_at";

/// Writes an audit row, typically on the transaction of the action it records.
pub(crate) async fn write_audit<'e, DB: Dialect>(
    on: impl super::IntoExec<'e, DB>,
    entry: NewAuditLog,
) -> StorageResult<()> {
    query(
        "INSERT INTO audit_logs (id, owner_user_id, actor_device_id, action, target_type, target_id, \
         metadata, ip_address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(crate::new_id())
    .bind(entry.owner_user_id)
    .bind(entry.actor_device_id)
    .bind(&entry.action)
    .bind(&entry.target_type)
    .bind(&entry.target_id)
    .bind(sqlx::types::Json(&entry.metadata))
    .bind(&entry.ip_address)
    .bind(crate::now())
    .execute(on)
    .await?;
    Ok(())
}

#[async_trait]
impl<B: Backend> crate::AuditStore for SqlDatabase<B> {
    async fn insert_audit_log(&self, entry: NewAuditLog) -> StorageResult<()> {
        write_audit(self.pool(), entry).await
    }

    async fn list_audit_logs(
        &self,
        owner: Uuid,
        page: PageRequest,
    ) -> StorageResult<Page<AuditLog>> {
        let page_sql = keyset("id", 2);
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_logs WHERE owner_user_id = $1 AND {page_sql}"
        );
        let rows: Page<AuditLog> = query(&sql)
            .bind(owner)
            .fetch_page(page, self.pool(), |a: &AuditLog| a.id)
            .await?;
        Ok(rows)
    }
}
