use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// What a webhook endpoint can subscribe to; the delivery's body is
    /// `{type, timestamp, data}` with the object in `data`.
    WebhookEventType {
        EventCreated => "event.created",
        EventEnded => "event.ended",
        RecordingAvailable => "recording.available",
        DeviceOnline => "device.online",
        DeviceOffline => "device.offline",
    }
}

/// An owner's webhook endpoint (table `webhook_endpoints`). The signing secret is shown once,
/// when it is created, and is not part of this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub owner_user_id: Uuid,
    pub url: String,
    #[sqlx(json)]
    pub events: Vec<WebhookEventType>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct NewWebhookEndpoint {
    pub owner_user_id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEventType>,
    /// `whsec_` and the base64 of the key, per Standard Webhooks.
    pub secret: String,
}

crate::redacted_debug!(NewWebhookEndpoint { owner_user_id, url, events; secret: secret });
