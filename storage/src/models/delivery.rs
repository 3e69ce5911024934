use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// `pending → sending → sent`, or `failed` (to be retried) and finally `dead`.
    DeliveryStatus {
        Pending => "pending",
        Sending => "sending",
        Sent => "sent",
        Failed => "failed",
        Dead => "dead",
    }
}

/// One push or webhook delivery job (table `notification_deliveries`). The payload stays
/// inside: it can hold what a push says, which is the recipient's business only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct NotificationDelivery {
    pub id: Uuid,
    pub recipient_device_id: Option<Uuid>,
    pub webhook_endpoint_id: Option<Uuid>,
    /// `command_wakeup` (data-only push to wake a device for a command), `event` (a push
    /// about an event), `webhook`.
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub notification_id: Option<Uuid>,
    pub command_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
