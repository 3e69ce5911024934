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

/// An invitation to link another person's device to a camera (table `device_link_invites`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkInvite {
    pub id: Uuid,
    pub owner_user_id: Uuid,
    pub camera_device_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// What creating an invite found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteOutcome {
    Created(LinkInvite),
    /// The camera is not the owner's.
    NotFound,
    NotACamera,
}

/// What accepting an invite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    Linked(DeviceLink),
    /// Unknown code, or the client device is not the accepting user's.
    NotFound,
    /// Expired or already accepted.
    Gone,
    /// The client device is already linked to that camera.
    Exists,
}
