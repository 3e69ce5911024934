use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// What set an event off.
    Trigger { Motion => "motion", Sound => "sound", Person => "person", Manual => "manual" }
}

crate::text_enum! {
    EventStatus { Active => "active", Ended => "ended", Acknowledged => "acknowledged" }
}

/// Something a camera saw or heard (table `events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Event {
    pub id: Uuid,
    /// The camera's owner.
    pub user_id: Uuid,
    /// The camera.
    pub device_id: Option<Uuid>,
    pub title: String,
    #[sqlx(try_from = "String")]
    pub triggered_by: Trigger,
    #[sqlx(try_from = "String")]
    pub status: EventStatus,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// When the owner and linked users were notified.
    pub notified_at: Option<DateTime<Utc>>,
    /// The event's clip, once it is available.
    pub video_url: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub camera_device_id: Uuid,
    pub owner_user_id: Uuid,
    pub title: String,
    pub triggered_by: Trigger,
    pub started_at: DateTime<Utc>,
}

/// What ending an event found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndOutcome {
    Ended(Event),
    /// It had ended before; unchanged.
    AlreadyEnded(Event),
    /// The end is before the start.
    EndsBeforeStart(Event),
    NotFound,
}

/// Who is looking at events: the camera's owner (and the owner's devices) and users or
/// devices linked to the camera since the event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventViewer {
    pub user_id: Uuid,
    /// With a device token: the device, whose own links count instead of every device of
    /// its owner.
    pub device_id: Option<Uuid>,
}

/// Filters of `GET /api/v1/events`.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub camera_device_id: Option<Uuid>,
    pub status: Option<EventStatus>,
    /// Started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Started before.
    pub until: Option<DateTime<Utc>>,
}
