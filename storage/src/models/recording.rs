use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    RecordingStatus {
        Recording => "recording",
        Uploading => "uploading",
        Available => "available",
        Failed => "failed",
        Deleted => "deleted",
    }
}

crate::text_enum! {
    /// Who writes a recording's object: the recorder, or a device uploading its own clip.
    RecordingSource { Recorder => "recorder", Device => "device" }
}

/// A clip in object storage (table `recordings`).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Recording {
    pub id: Uuid,
    pub owner_user_id: Uuid,
    pub stream_session_id: Option<Uuid>,
    pub camera_device_id: Option<Uuid>,
    pub requester_device_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub object_key: String,
    pub bucket: String,
    pub duration_seconds: Option<f64>,
    /// While a clip is written: the bytes uploaded so far.
    pub size_bytes: Option<i64>,
    pub content_type: String,
    #[sqlx(try_from = "String")]
    pub status: RecordingStatus,
    pub available_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    #[sqlx(try_from = "String")]
    pub source: RecordingSource,
    /// The multipart upload of a clip being written to a bucket, and the ETags of its parts
    /// stored so far (a JSON array): what crash recovery completes.
    #[serde(skip)]
    pub upload_id: Option<String>,
    #[serde(skip)]
    pub upload_parts: Option<String>,
}

impl Recording {
    /// The path clients fetch a clip's media from (an event's `video_url`).
    pub fn media_path(id: Uuid) -> String {
        format!("/api/v1/recordings/{id}/media")
    }
}

/// A clip about to be written (status `recording`).
#[derive(Debug, Clone)]
pub struct NewRecording {
    pub id: Uuid,
    pub owner_user_id: Uuid,
    pub stream_session_id: Option<Uuid>,
    pub camera_device_id: Option<Uuid>,
    pub requester_device_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub object_key: String,
    pub bucket: String,
    pub content_type: String,
    /// `Device`: the row starts `uploading` (the device uploads a clip it wrote).
    pub source: RecordingSource,
    /// What a device says it will upload (checked before the clip is `available`).
    pub size_bytes: Option<i64>,
    pub duration_seconds: Option<f64>,
}

/// Filters of `GET /api/v1/recordings`.
#[derive(Debug, Clone, Default)]
pub struct RecordingFilter {
    pub camera_device_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
}

/// How a clip ended up.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordingResult {
    /// Written and verified: it plays.
    Available {
        duration_seconds: f64,
        size_bytes: i64,
    },
    Failed {
        error: String,
    },
}
