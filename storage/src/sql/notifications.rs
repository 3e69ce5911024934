//! [`crate::NotificationStore`], on either backend.

use super::access;
use super::prelude::*;

pub const NOTIFICATION_COLUMNS: &str = "n.id, n.event_id, n.user_id, n.channel, n.status, \
     n.suppressed_reason, n.is_read, n.sent_at, n.created_at, e.device_id AS camera_device_id, \
     e.title, e.triggered_by";

/// A user's stored preferences: `$1` user.
pub const PREFERENCES_SQL: &str =
    "SELECT quiet_hours_start, quiet_hours_end, quiet_hours_timezone, \
     muted_camera_ids, cooldown_seconds FROM notification_preferences WHERE user_id = $1";

#[async_trait]
impl<B: Backend> crate::NotificationStore for SqlDatabase<B> {
    async fn list_notifications(
        &self,
        user: Uuid,
        unread_only: bool,
        page: crate::PageRequest,
    ) -> crate::StorageResult<crate::Page<crate::Notification>> {
        let unread = if unread_only { "AND NOT n.is_read" } else { "" };
        let page_sql = keyset("n.id", 2);
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications n JOIN events e ON e.id = n.event_id \
             WHERE n.user_id = $1 {unread} AND {page_sql}"
        );
        let rows: crate::Page<crate::Notification> = query(&sql)
            .bind(user)
            .fetch_page(page, self.pool(), |n: &crate::Notification| n.id)
            .await?;
        Ok(rows)
    }

    async fn mark_notification_read(
        &self,
        user: Uuid,
        id: Uuid,
    ) -> crate::StorageResult<Option<crate::Notification>> {
        query("UPDATE notifications SET is_read = $1 WHERE id = $2 AND user_id = $3")
            .bind(true)
            .bind(id)
            .bind(user)
            .execute(self.pool())
            .await?;
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications n JOIN events e ON e.id = n.event_id \
             WHERE n.id = $1 AND n.user_id = $2"
        );
        Ok(query(&sql)
            .bind(id)
            .bind(user)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn notification_preferences(
        &self,
        user: Uuid,
    ) -> crate::StorageResult<crate::NotificationPreferences> {
        let row: Option<crate::PreferencesRow> = query(PREFERENCES_SQL)
            .bind(user)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(Into::into).unwrap_or_default())
    }

    async fn set_notification_preferences(
        &self,
        user: Uuid,
        preferences: &crate::NotificationPreferences,
        now: DateTime<Utc>,
        audit: crate::NewAuditLog,
    ) -> crate::StorageResult<crate::NotificationPreferences> {
        let quiet = preferences.quiet_hours.as_ref();
        let mut tx = self.begin_write().await?;
        query(
            "INSERT INTO notification_preferences (user_id, quiet_hours_start, quiet_hours_end, \
             quiet_hours_timezone, muted_camera_ids, cooldown_seconds, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (user_id) DO UPDATE SET \
             quiet_hours_start = excluded.quiet_hours_start, quiet_hours_end = excluded.quiet_hours_end, \
             quiet_hours_timezone = excluded.quiet_hours_timezone, \
             muted_camera_ids = excluded.muted_camera_ids, \
             cooldown_seconds = excluded.cooldown_seconds, updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(quiet.map(|q| q.start.as_str()))
        .bind(quiet.map(|q| q.end.as_str()))
        .bind(quiet.map(|q| q.timezone.as_str()))
        .bind(sqlx::types::Json(&preferences.muted_camera_ids))
        .bind(preferences.cooldown_seconds as i32)
        .bind(now)
        .execute(&mut tx)
        .await?;
        let stored: crate::PreferencesRow =
            query(PREFERENCES_SQL).bind(user).fetch_one(&mut tx).await?;
        write_audit(&mut tx, audit.or_target(user, "user", user)).await?;
        tx.commit().await?;
        Ok(stored.into())
    }

    async fn visible_cameras(&self, user: Uuid, ids: &[Uuid]) -> crate::StorageResult<Vec<Uuid>> {
        use super::deliveries::{padded, placeholders};
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT d.id FROM devices d WHERE d.is_camera AND d.id IN ({}) AND {}",
            placeholders(2, ids.len()),
            access::visible_device("d.id", "d.user_id", "$1")
        );
        let mut q = query_scalar(&sql).bind(user);
        for id in padded(ids) {
            q = q.bind(id);
        }
        Ok(q.fetch_all(self.pool()).await?)
    }
}
