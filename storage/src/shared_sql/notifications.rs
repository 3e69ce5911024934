//! The SQL of [`crate::NotificationStore`], written once for both backends.

pub const NOTIFICATION_COLUMNS: &str = "n.id, n.event_id, n.user_id, n.channel, n.status, \
     n.suppressed_reason, n.is_read, n.sent_at, n.created_at, e.device_id AS camera_device_id, \
     e.title, e.triggered_by";

/// A user's stored preferences: `$1` user.
pub const PREFERENCES_SQL: &str =
    "SELECT quiet_hours_start, quiet_hours_end, quiet_hours_timezone, \
     muted_camera_ids, cooldown_seconds FROM notification_preferences WHERE user_id = $1";

/// Implements [`crate::NotificationStore`] for a backend type with a `pool` field.
#[macro_export]
macro_rules! impl_notification_store {
    ($db:ty) => {
        #[async_trait::async_trait]
        impl $crate::NotificationStore for $db {
            async fn list_notifications(
                &self,
                user: uuid::Uuid,
                unread_only: bool,
                page: $crate::PageRequest,
            ) -> $crate::StorageResult<$crate::Page<$crate::Notification>> {
                use $crate::shared_sql::notifications::*;
                let unread = if unread_only { "AND NOT n.is_read" } else { "" };
                let sql = format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications n JOIN events e ON e.id = n.event_id \
                     WHERE n.user_id = $1 {unread} AND ($2 IS NULL OR n.id < $2) \
                     ORDER BY n.id DESC LIMIT $3"
                );
                let rows: Vec<$crate::Notification> = sqlx::query_as(&sql)
                    .bind(user)
                    .bind(page.after.map(|cursor| cursor.0))
                    .bind(page.fetch_limit())
                    .fetch_all(&self.pool)
                    .await?;
                Ok($crate::Page::from_rows(rows, page, |n| n.id))
            }

            async fn mark_notification_read(
                &self,
                user: uuid::Uuid,
                id: uuid::Uuid,
            ) -> $crate::StorageResult<Option<$crate::Notification>> {
                use $crate::shared_sql::notifications::*;
                sqlx::query("UPDATE notifications SET is_read = $1 WHERE id = $2 AND user_id = $3")
                    .bind(true)
                    .bind(id)
                    .bind(user)
                    .execute(&self.pool)
                    .await?;
                let sql = format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications n JOIN events e ON e.id = n.event_id \
                     WHERE n.id = $1 AND n.user_id = $2"
                );
                Ok(sqlx::query_as(&sql)
                    .bind(id)
                    .bind(user)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn notification_preferences(
                &self,
                user: uuid::Uuid,
            ) -> $crate::StorageResult<$crate::NotificationPreferences> {
                use $crate::shared_sql::notifications::*;
                let row: Option<$crate::PreferencesRow> = sqlx::query_as(PREFERENCES_SQL)
                    .bind(user)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(Into::into).unwrap_or_default())
            }

            async fn set_notification_preferences(
                &self,
                user: uuid::Uuid,
                preferences: &$crate::NotificationPreferences,
                now: chrono::DateTime<chrono::Utc>,
                audit: $crate::NewAuditLog,
            ) -> $crate::StorageResult<$crate::NotificationPreferences> {
                use $crate::shared_sql::notifications::*;
                let quiet = preferences.quiet_hours.as_ref();
                let mut tx = self.begin_write().await?;
                sqlx::query(
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
                .execute(&mut *tx)
                .await?;
                let stored: $crate::PreferencesRow = sqlx::query_as(PREFERENCES_SQL)
                    .bind(user)
                    .fetch_one(&mut *tx)
                    .await?;
                write_audit(&mut tx, audit.or_target(user, "user", user)).await?;
                tx.commit().await?;
                Ok(stored.into())
            }

            async fn visible_cameras(
                &self,
                user: uuid::Uuid,
                ids: &[uuid::Uuid],
            ) -> $crate::StorageResult<Vec<uuid::Uuid>> {
                use $crate::shared_sql::deliveries::{padded, placeholders};
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT d.id FROM devices d WHERE d.is_camera AND d.id IN ({}) AND (d.user_id = $1 \
                     OR EXISTS (SELECT 1 FROM device_links l JOIN devices c ON c.id = l.client_device_id \
                       WHERE l.camera_device_id = d.id AND l.status = 'active' AND c.user_id = $1))",
                    placeholders(2, ids.len())
                );
                let mut query = sqlx::query_scalar(&sql).bind(user);
                for id in padded(ids) {
                    query = query.bind(id);
                }
                Ok(query.fetch_all(&self.pool).await?)
            }
        }
    };
}
