//! Signal's side of recording: it opens a `recording` stream session for each event clip
//! (which makes a camera that was not publishing start, and keeps it publishing until the
//! clip is done) and for recordings by hand (`start_recording` / `stop_recording`), and tells
//! the recorder through [`feed`]. The recorder's reports come back through
//! `crate::reactions::recorder`.

pub mod feed;

use securecam_recorder::service::ClipRequest;
use securecam_storage::{
    now, Command, Event, EventViewer, NewAuditLog, PageRequest, RecordingFilter, RecordingSource,
    RecordingStatus, StreamReason,
};
use serde_json::json;

use crate::state::Core;
use crate::streams;
use crate::types::identity::Sender;

/// An event started: its clip is recorded, under a session of its own that makes the camera
/// publish if it does not yet.
pub async fn event_started(core: &Core, event: &Event) {
    let (Some(_), Some(clips), Some(camera)) = (
        core.outbox().recorder(),
        &core.media().clips,
        event.device_id,
    ) else {
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
        core,
        event.user_id,
        camera,
        None,
        StreamReason::Recording,
        sender,
        audit,
        None,
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
    feed::start_clip(core, clips, request).await;
}

/// `start_recording` sent to a camera: the recorder records it, under a `recording` session
/// of the sender's, until `stop_recording` (or the recording's maximum length).
pub async fn start_commanded(core: &Core, sender: &Sender, command: &Command) {
    if core.outbox().recorder().is_none() {
        return;
    }
    let audit = NewAuditLog::new("stream.start")
        .actor_device(sender.device_id)
        .ip(sender.ip.clone())
        .metadata(json!({"reason": StreamReason::Recording, "command_id": command.id}));
    match streams::open_session(
        core,
        sender.user_id,
        command.target_device_id,
        sender.device_id,
        StreamReason::Recording,
        sender.clone(),
        audit,
        None,
    )
    .await
    {
        Ok(session) => feed::session_opened(core, &session).await,
        Err(err) => {
            tracing::warn!(command_id = %command.id, error = ?err, "start_recording: could not open a recording session")
        }
    }
}

/// `stop_recording` sent to a camera: its recordings started by hand end now.
pub async fn stop_commanded(core: &Core, command: &Command) {
    let camera = command.target_device_id;
    let owner = EventViewer {
        user_id: command.owner_user_id,
        device_id: None,
    };
    let filter = RecordingFilter {
        camera_device_id: Some(camera),
        ..Default::default()
    };
    let running = match core
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
        match core
            .db()
            .close_stream_session(session, "recording_stopped", now())
            .await
        {
            Ok(Some(closed)) => streams::announce(core, &[closed]),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(session_id = %session, error = %err, "stop_recording: could not end a session")
            }
        }
    }
}
