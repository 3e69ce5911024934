//! The SQL of [`crate::DeliveryStore`], written once for both backends.

pub const DELIVERY_COLUMNS: &str = "id, recipient_device_id, webhook_endpoint_id, type, status, \
     attempts, last_error, sent_at, next_attempt_at, notification_id, command_id, created_at, updated_at";

/// Implements [`crate::DeliveryStore`] for a backend type with a `pool` field.
#[macro_export]
macro_rules! impl_delivery_store {
    ($db:ty) => {
        #[async_trait::async_trait]
        impl $crate::DeliveryStore for $db {
            async fn list_notification_deliveries(
                &self,
                owner: uuid::Uuid,
                status: Option<$crate::DeliveryStatus>,
                page: $crate::PageRequest,
            ) -> $crate::StorageResult<$crate::Page<$crate::NotificationDelivery>> {
                use $crate::shared_sql::deliveries::DELIVERY_COLUMNS;
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} FROM notification_deliveries WHERE owner_user_id = $1 \
                     AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id < $3) \
                     ORDER BY id DESC LIMIT $4"
                );
                let rows: Vec<$crate::NotificationDelivery> = sqlx::query_as(&sql)
                    .bind(owner)
                    .bind(status.map(|s| s.as_str()))
                    .bind(page.after.map(|cursor| cursor.0))
                    .bind(page.fetch_limit())
                    .fetch_all(&self.pool)
                    .await?;
                Ok($crate::Page::from_rows(rows, page, |d| d.id))
            }
        }
    };
}

/// Every store whose SQL is shared, for a backend type with a `pool` field and its
/// connection type.
#[macro_export]
macro_rules! impl_shared_stores {
    ($db:ty, $conn:ty) => {
        $crate::impl_command_store!($db, $conn);
        $crate::impl_delivery_store!($db);
        $crate::impl_event_store!($db);
        $crate::impl_stream_store!($db);
        $crate::impl_relay_store!($db);
        $crate::impl_recording_store!($db);
    };
}
