//! What the recorder is told, wherever it runs (see `crate::outbox`): which cameras publish
//! (so it keeps their pre-roll), which clips to record and when they end. Nothing here opens
//! a stream session; `super` does that, above `crate::streams`.

use securecam_media_relay::token::Direction;
use securecam_recorder::service::{ClipRequest, RecorderInput};
use securecam_recorder::store::ClipStore;
use securecam_storage::{
    new_id, now, Event, Recording, RecordingStatus, StreamReason, StreamSession,
};
use uuid::Uuid;

use crate::outbox::RecorderRoute;
use crate::state::Core;

/// The relay has the camera's stream: the recorder watches it through the relay that carries
/// it, with a subscribe token of its own (a session no client holds).
pub async fn camera_live(core: &Core, camera: Uuid, stream: &str) {
    let Some(recorder) = core.outbox().recorder() else {
        return;
    };
    let at = now();
    let relay = match core
        .db()
        .pick_relay(camera, at - core.config().relay_stale())
        .await
    {
        Ok(Some(relay)) => relay,
        Ok(None) => return,
        Err(err) => {
            tracing::warn!(camera_id = %camera, error = %err, "recorder: could not find the camera's relay");
            return;
        }
    };
    // A recorder in this process watches a relay in this process over loopback.
    let base = match (recorder, &core.media().local_relay) {
        (RecorderRoute::Local(_), Some((id, local))) if *id == relay.id => local.as_str(),
        _ => relay.public_url.as_str(),
    };
    let endpoint = format!("{}/media/whep/{stream}", base.trim_end_matches('/'));
    let token = core
        .media()
        .token(camera, stream, Direction::Subscribe, new_id(), at);
    core.outbox().to_recorder(RecorderInput::CameraLive {
        camera,
        endpoint,
        token,
    });
}

/// The camera's stream is closed.
pub fn camera_gone(core: &Core, camera: Uuid) {
    core.outbox()
        .to_recorder(RecorderInput::CameraGone { camera });
}

/// Stores the clip's row, then asks the recorder for it.
pub(super) async fn start_clip(core: &Core, clips: &ClipStore, request: ClipRequest) {
    match core
        .db()
        .create_recording(request.new_recording(clips), now())
        .await
    {
        Ok(_) => core.outbox().to_recorder(RecorderInput::StartClip(request)),
        Err(err) => {
            tracing::warn!(camera_id = %request.camera, error = %err, "could not store a new clip")
        }
    }
}

/// An event ended: its clip ends a post-roll later.
pub fn event_ended(core: &Core, event: &Event) {
    core.outbox()
        .to_recorder(RecorderInput::EndEvent { event: event.id });
}

/// A session opened for a recording by hand (`reason: recording`) is recorded until it ends.
pub async fn session_opened(core: &Core, session: &StreamSession) {
    let (Some(_), Some(clips), Some(camera)) = (
        core.outbox().recorder(),
        &core.media().clips,
        session.camera_device_id,
    ) else {
        return;
    };
    if session.reason != StreamReason::Recording {
        return;
    }
    let request = ClipRequest {
        session_id: Some(session.id),
        requester_device_id: session.requester_device_id,
        ..ClipRequest::new(clips, camera, session.owner_user_id)
    };
    start_clip(core, clips, request).await;
}

/// A clip was deleted: should it still be recording, it stops (and its object goes).
pub fn clip_deleted(core: &Core, recording: &Recording) {
    if recording.status != RecordingStatus::Recording {
        return;
    }
    core.outbox().to_recorder(RecorderInput::StopClip {
        recording: recording.id,
    });
}

/// A session ended: an on-demand recording under it stops.
pub fn session_ended(core: &Core, session: &StreamSession) {
    if session.reason != StreamReason::Recording {
        return;
    }
    core.outbox().to_recorder(RecorderInput::StopSession {
        session: session.id,
    });
}
