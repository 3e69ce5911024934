//! Signal's side of recording: it tells the recorder which cameras publish (so it keeps their
//! pre-roll), opens a `recording` stream session for each event clip (which makes a camera
//! that was not publishing start, and keeps it publishing until the clip is done), and turns
//! the recorder's reports into `recording.available` for the camera's audience.

use securecam_media_relay::token::Direction;
use securecam_recorder::service::{ClipRequest, RecorderHandle, RecorderInput, RecorderReport};
use securecam_recorder::store::ClipStore;
use securecam_storage::{
    new_id, now, Command, Event, EventViewer, NewAuditLog, PageRequest, Recording, RecordingFilter,
    RecordingSource, RecordingStatus, StreamReason, StreamSession,
};
use serde_json::json;
use uuid::Uuid;

use crate::bus::BusMessage;
use crate::commands::service::Sender;
use crate::fanout::to_camera_audience;
use crate::state::AppState;
use crate::streams;
use crate::ws::protocol::ServerMessage;

/// Where the recorder is: in this process, or in another one reached over the bus.
enum Link<'a> {
    Local(&'a RecorderHandle),
    Remote,
}

fn link(state: &AppState) -> Option<Link<'_>> {
    match &state.media().recorder {
        Some(handle) => Some(Link::Local(handle)),
        None if state.config().remote_recorder && state.bus().is_multi_node() => Some(Link::Remote),
        None => None,
    }
}

impl Link<'_> {
    fn send(&self, state: &AppState, input: RecorderInput) {
        match self {
            Link::Local(handle) => handle.send(input),
            Link::Remote => state.bus().publish(BusMessage::Recorder(input)),
        }
    }
}

/// Why the recorder's session of a finished clip ends.
const CLIP_DONE: &str = "recording_finished";

/// The relay has the camera's stream: the recorder watches it through the relay that carries
/// it, with a subscribe token of its own (a session no client holds).
pub async fn camera_live(state: &AppState, camera: Uuid, stream: &str) {
    let Some(recorder) = link(state) else {
        return;
    };
    let at = now();
    let relay = match state
        .db()
        .pick_relay(camera, at - state.config().relay_stale())
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
    let base = match (&recorder, &state.media().local_relay) {
        (Link::Local(_), Some((id, local))) if *id == relay.id => local.as_str(),
        _ => relay.public_url.as_str(),
    };
    let endpoint = format!("{}/media/whep/{stream}", base.trim_end_matches('/'));
    let token = state
        .media()
        .token(camera, stream, Direction::Subscribe, new_id(), at);
    recorder.send(
        state,
        RecorderInput::CameraLive {
            camera,
            endpoint,
            token,
        },
    );
}

/// The camera's stream is closed.
pub fn camera_gone(state: &AppState, camera: Uuid) {
    if let Some(recorder) = link(state) {
        recorder.send(state, RecorderInput::CameraGone { camera });
    }
}

/// An event started: its clip is recorded, under a session of its own that makes the camera
/// publish if it does not yet.
pub async fn event_started(state: &AppState, event: &Event) {
    let (Some(recorder), Some(clips), Some(camera)) =
        (link(state), &state.media().clips, event.device_id)
    else {
        return;
    };
    let sender = Sender {
        user_id: event.user_id,
        device_id: None,
        ip: None,
    };
    let audit = NewAuditLog::new("stream.start")
        .metadata(json!({"reason": StreamReason::Recording, "event_id": event.id}));
    let session = match streams::open_session(
        state,
        event.user_id,
        camera,
        None,
        StreamReason::Recording,
        sender,
        audit,
    )
    .await
    {
        Ok(session) => Some(session.id),
        Err(err) => {
            // Without a session the clip still records while the camera publishes anyway.
            tracing::warn!(event_id = %event.id, error = ?err, "could not open the event clip's stream session");
            None
        }
    };
    let request = ClipRequest {
        event: true,
        event_id: Some(event.id),
        session_id: session,
        ..ClipRequest::new(clips, camera, event.user_id)
    };
    start_clip(state, recorder, clips, request).await;
}

/// Stores the clip's row, then asks the recorder for it.
async fn start_clip(state: &AppState, recorder: Link<'_>, clips: &ClipStore, request: ClipRequest) {
    match state
        .db()
        .create_recording(request.new_recording(clips), now())
        .await
    {
        Ok(_) => recorder.send(state, RecorderInput::StartClip(request)),
        Err(err) => {
            tracing::warn!(camera_id = %request.camera, error = %err, "could not store a new clip")
        }
    }
}

/// An event ended: its clip ends a post-roll later.
pub fn event_ended(state: &AppState, event: &Event) {
    if let Some(recorder) = link(state) {
        recorder.send(state, RecorderInput::EndEvent { event: event.id });
    }
}

/// A session opened for a recording by hand (`reason: recording`) is recorded until it ends.
pub async fn session_opened(state: &AppState, session: &StreamSession) {
    let (Some(recorder), Some(clips), Some(camera)) =
        (link(state), &state.media().clips, session.camera_device_id)
    else {
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
    start_clip(state, recorder, clips, request).await;
}

/// `start_recording` sent to a camera: the recorder records it, under a `recording` session
/// of the sender's, until `stop_recording` (or the recording's maximum length).
pub async fn start_commanded(state: &AppState, sender: &Sender, command: &Command) {
    if link(state).is_none() {
        return;
    }
    let audit = NewAuditLog::new("stream.start")
        .actor_device(sender.device_id)
        .ip(sender.ip.clone())
        .metadata(json!({"reason": StreamReason::Recording, "command_id": command.id}));
    match streams::open_session(
        state,
        sender.user_id,
        command.target_device_id,
        sender.device_id,
        StreamReason::Recording,
        sender.clone(),
        audit,
    )
    .await
    {
        Ok(session) => session_opened(state, &session).await,
        Err(err) => {
            tracing::warn!(command_id = %command.id, error = ?err, "start_recording: could not open a recording session")
        }
    }
}

/// `stop_recording` sent to a camera: its recordings started by hand end now.
pub async fn stop_commanded(state: &AppState, command: &Command) {
    let camera = command.target_device_id;
    let owner = EventViewer {
        user_id: command.owner_user_id,
        device_id: None,
    };
    let filter = RecordingFilter {
        camera_device_id: Some(camera),
        ..Default::default()
    };
    let running = match state
        .db()
        .list_recordings(owner, filter, PageRequest::first(200))
        .await
    {
        Ok(page) => page.items,
        Err(err) => {
            tracing::warn!(camera_id = %camera, error = %err, "stop_recording: could not list recordings");
            return;
        }
    };
    for recording in running {
        let by_hand = recording.status == RecordingStatus::Recording
            && recording.event_id.is_none()
            && recording.source == RecordingSource::Recorder;
        let Some(session) = recording.stream_session_id.filter(|_| by_hand) else {
            continue;
        };
        match state
            .db()
            .close_stream_session(session, "recording_stopped", now())
            .await
        {
            Ok(Some(closed)) => streams::announce(state, &[closed]),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(session_id = %session, error = %err, "stop_recording: could not end a session")
            }
        }
    }
}

/// A clip was deleted: should it still be recording, it stops (and its object goes).
pub fn clip_deleted(state: &AppState, recording: &Recording) {
    if recording.status != RecordingStatus::Recording {
        return;
    }
    if let Some(recorder) = link(state) {
        recorder.send(
            state,
            RecorderInput::StopClip {
                recording: recording.id,
            },
        );
    }
}

/// A session ended: an on-demand recording under it stops.
pub fn session_ended(state: &AppState, session: &StreamSession) {
    if session.reason != StreamReason::Recording {
        return;
    }
    if let Some(recorder) = link(state) {
        recorder.send(
            state,
            RecorderInput::StopSession {
                session: session.id,
            },
        );
    }
}

/// Tells the camera's audience that a clip can be played. The message goes to the owner's
/// and linked devices alike, so it carries no `playback_url` (each is signed for one
/// viewer): a device gets its own with `GET /api/v1/recordings/{id}`.
pub async fn announce_available(state: &AppState, recording: &Recording) {
    if recording.status != RecordingStatus::Available {
        return;
    }
    if let Some(camera) = recording.camera_device_id {
        let message = ServerMessage::RecordingAvailable {
            recording: crate::routes::recordings::RecordingView {
                recording: recording.clone(),
                playback_url: None,
            },
        };
        to_camera_audience(state, recording.owner_user_id, camera, true, &message).await;
    }
}

/// What the recorder reports: a clip that became available is announced to the camera's
/// audience; the session that kept the camera publishing for it ends.
pub async fn on_report(state: &AppState, report: RecorderReport) {
    let session = match report {
        RecorderReport::Finished { recording } => {
            announce_available(state, &recording).await;
            recording.stream_session_id
        }
        RecorderReport::SessionDone { session } => Some(session),
    };
    if let Some(session) = session {
        match state
            .db()
            .close_stream_session(session, CLIP_DONE, now())
            .await
        {
            Ok(Some(closed)) => streams::announce(state, &[closed]),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(session_id = %session, error = %err, "could not end a finished clip's session")
            }
        }
    }
}
