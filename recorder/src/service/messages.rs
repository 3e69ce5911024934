//! What the rest of the process (and other processes, over the bus) exchanges with the
//! recorder: its settings, what it is told ([`RecorderInput`]), what it reports
//! ([`RecorderReport`]) and the handle to tell it.

use std::time::Duration;

use securecam_storage::{NewRecording, Recording, RecordingSource};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::camera::CameraConfig;
use crate::retention::RetentionConfig;
use crate::store::{ClipStore, CLIP_CONTENT_TYPE};
/// Reports waiting for signal; clip tasks wait when it is full.
pub const REPORT_QUEUE: usize = 256;

#[derive(Debug, Clone, Copy)]
pub struct RecorderConfig {
    pub camera: CameraConfig,
    pub retention: RetentionConfig,
    /// How often retention sweeps (and once at start).
    pub retention_interval: Duration,
    /// How often a clip being written refreshes its row (crash recovery's sign of life).
    pub progress_interval: Duration,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            camera: CameraConfig::default(),
            retention: RetentionConfig::default(),
            retention_interval: Duration::from_secs(600),
            progress_interval: Duration::from_secs(5),
        }
    }
}

/// A clip to record. Its row is stored (status `recording`) by whoever asks, before asking,
/// so the clip shows at once and a clip the recorder never gets is recovered as failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipRequest {
    pub recording_id: Uuid,
    pub object_key: String,
    pub camera: Uuid,
    pub owner: Uuid,
    pub event: bool,
    pub event_id: Option<Uuid>,
    /// The stream session that keeps the camera publishing for this clip.
    pub session_id: Option<Uuid>,
    pub requester_device_id: Option<Uuid>,
}

impl ClipRequest {
    /// A request for a new clip of `camera`, its object named by `store`.
    pub fn new(store: &ClipStore, camera: Uuid, owner: Uuid) -> Self {
        let recording_id = securecam_storage::new_id();
        ClipRequest {
            recording_id,
            object_key: store.object_key(owner, recording_id),
            camera,
            owner,
            event: false,
            event_id: None,
            session_id: None,
            requester_device_id: None,
        }
    }

    /// The clip's row.
    pub fn new_recording(&self, store: &ClipStore) -> NewRecording {
        NewRecording {
            id: self.recording_id,
            owner_user_id: self.owner,
            stream_session_id: self.session_id,
            camera_device_id: Some(self.camera),
            requester_device_id: self.requester_device_id,
            event_id: self.event_id,
            object_key: self.object_key.clone(),
            bucket: store.bucket().to_string(),
            content_type: CLIP_CONTENT_TYPE.to_string(),
            source: RecordingSource::Recorder,
            size_bytes: None,
            duration_seconds: None,
        }
    }
}

/// What the recorder is told.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum RecorderInput {
    /// The camera publishes: watch it (for the pre-roll, and for clips waiting for it).
    CameraLive {
        camera: Uuid,
        endpoint: String,
        token: String,
    },
    /// The camera's stream is closed.
    CameraGone {
        camera: Uuid,
    },
    StartClip(ClipRequest),
    /// An event ended: its clip stops a post-roll later.
    EndEvent {
        event: Uuid,
    },
    /// The stream session of an on-demand recording ended: its clip stops now.
    StopSession {
        session: Uuid,
    },
    /// The clip was deleted while it was recorded: it stops now (its object is removed).
    StopClip {
        recording: Uuid,
    },
}

impl std::fmt::Debug for RecorderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecorderInput::CameraLive {
                camera, endpoint, ..
            } => f
                .debug_struct("CameraLive")
                .field("camera", camera)
                .field("endpoint", endpoint)
                .field("token", &"[REDACTED]")
                .finish(),
            RecorderInput::CameraGone { camera } => f
                .debug_struct("CameraGone")
                .field("camera", camera)
                .finish(),
            RecorderInput::StartClip(request) => f.debug_tuple("StartClip").field(request).finish(),
            RecorderInput::EndEvent { event } => {
                f.debug_struct("EndEvent").field("event", event).finish()
            }
            RecorderInput::StopSession { session } => f
                .debug_struct("StopSession")
                .field("session", session)
                .finish(),
            RecorderInput::StopClip { recording } => f
                .debug_struct("StopClip")
                .field("recording", recording)
                .finish(),
        }
    }
}

/// What the recorder tells signal.
#[derive(Debug, Clone, PartialEq)]
pub enum RecorderReport {
    /// A clip ended: `available` or `failed`. Its stream session, if any, is no longer needed.
    Finished { recording: Box<Recording> },
    /// A clip that was deleted while it was recorded ended: its session is no longer needed.
    SessionDone { session: Uuid },
}

/// How the rest of the process talks to the recorder.
#[derive(Clone)]
pub struct RecorderHandle {
    pub(super) inputs: mpsc::Sender<RecorderInput>,
}

impl RecorderHandle {
    /// Queues an input; a full queue drops it with a warning (requests never wait on it).
    pub fn send(&self, input: RecorderInput) {
        if let Err(err) = self.inputs.try_send(input) {
            tracing::warn!(error = %err, "recorder queue full or closed: input dropped");
        }
    }
}
