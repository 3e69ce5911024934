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

/// A job a worker took from the queue, with what it needs to send it: the device's push
/// credentials or the webhook endpoint's URL and secret, as they are now.
#[derive(Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub owner_user_id: Uuid,
    /// `event`, `command_wakeup` or `webhook`.
    #[sqlx(rename = "type")]
    pub kind: String,
    #[sqlx(json)]
    pub payload: serde_json::Value,
    /// Including this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub notification_id: Option<Uuid>,
    pub recipient_device_id: Option<Uuid>,
    /// `None` when the device has no push token (any more).
    pub push_provider: Option<String>,
    pub push_token: Option<String>,
    pub webhook_endpoint_id: Option<Uuid>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
}

crate::redacted_debug!(ClaimedDelivery { id, owner_user_id, kind, attempts, created_at, notification_id,
    recipient_device_id, push_provider, webhook_endpoint_id, webhook_url;
    secret: payload, push_token, webhook_secret });

/// How one attempt at a claimed job ended.
#[derive(Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    Sent,
    /// Try again at `at`.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Never again. With `refused_token`, the provider said the device's push token is no
    /// good: it is cleared (unless the device registered another one meanwhile) and audited.
    Dead {
        error: String,
        refused_token: Option<String>,
    },
}

impl std::fmt::Debug for DeliveryResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryResult::Sent => f.write_str("Sent"),
            DeliveryResult::Retry { error, at } => f
                .debug_struct("Retry")
                .field("error", error)
                .field("at", at)
                .finish(),
            DeliveryResult::Dead {
                error,
                refused_token,
            } => f
                .debug_struct("Dead")
                .field("error", error)
                .field(
                    "refused_token",
                    &refused_token.as_ref().map(|_| "[REDACTED]"),
                )
                .finish(),
        }
    }
}

/// What a worker reports for one job it claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub id: Uuid,
    pub result: DeliveryResult,
}
