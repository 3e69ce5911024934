use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    LinkStatus { Active => "active", Revoked => "revoked" }
}

/// A client device allowed to watch a camera and send it commands (table `device_links`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct DeviceLink {
    pub id: Uuid,
    /// The camera's owner.
    pub owner_user_id: Uuid,
    pub camera_device_id: Uuid,
    pub client_device_id: Uuid,
    #[sqlx(try_from = "String")]
    pub status: LinkStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What creating a link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    Created(DeviceLink),
    /// Either device is not the owner's.
    NotFound,
    /// The "camera" is not a camera.
    NotACamera,
    /// An active link between the two exists.
    Exists,
}
