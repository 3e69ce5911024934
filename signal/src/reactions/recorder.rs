//! What the recorder reports, wherever it runs: a clip that became available is announced to
//! the camera's audience; the session that kept the camera publishing for it ends.

use securecam_recorder::service::RecorderReport;
use securecam_storage::{now, Recording, RecordingStatus};

use crate::fanout::to_camera_audience;
use crate::state::Core;
use crate::streams;
use crate::types::protocol::ServerMessage;
use crate::types::views::RecordingView;

/// Why the recorder's session of a finished clip ends.
const CLIP_DONE: &str = "recording_finished";

/// Tells the camera's audience that a clip can be played. The message goes to the owner's
/// and linked devices alike, so it carries no `playback_url` (each is signed for one
/// viewer): a device gets its own with `GET /api/v1/recordings/{id}`.
pub async fn announce_available(core: &Core, recording: &Recording) {
    if recording.status != RecordingStatus::Available {
        return;
    }
    if let Some(camera) = recording.camera_device_id {
        let message = ServerMessage::RecordingAvailable {
            recording: RecordingView::unsigned(recording.clone()),
        };
        to_camera_audience(core, recording.owner_user_id, camera, true, &message).await;
    }
}

/// What the recorder reports: a clip that became available is announced to the camera's
/// audience; the session that kept the camera publishing for it ends.
pub async fn on_report(core: &Core, report: RecorderReport) {
    let session = match report {
        RecorderReport::Finished { recording } => {
            announce_available(core, &recording).await;
            recording.stream_session_id
        }
        RecorderReport::SessionDone { session } => Some(session),
    };
    if let Some(session) = session {
        match core
            .db()
            .close_stream_session(session, CLIP_DONE, now())
            .await
        {
            Ok(Some(closed)) => streams::announce(core, &[closed]),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(session_id = %session, error = %err, "could not end a finished clip's session")
            }
        }
    }
}
