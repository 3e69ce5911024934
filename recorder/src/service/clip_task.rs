//! One clip's task: its row (`recording` → `uploading` → `available` | `failed`) and its
//! upload, part by part as the bytes come (multipart: never the whole clip in memory).

use std::time::Duration;

use bytes::Bytes;
use securecam_storage::{now, RecordingResult};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::messages::RecorderReport;
use super::Shared;
use crate::clip::ClipEnd;
use crate::store::ClipUpload;

pub(super) enum ClipMsg {
    Bytes(Bytes),
    Ended { end: ClipEnd, duration: Duration },
    NeverStarted,
    Failed(String),
}

/// One clip: uploads its bytes as they come and keeps its row (fresh every
/// `progress_interval`, even while it waits for the camera: crash recovery leaves it alone).
pub(super) async fn clip_task(
    shared: Shared,
    id: Uuid,
    key: String,
    session: Option<Uuid>,
    mut inbox: mpsc::Receiver<ClipMsg>,
) {
    let mut upload: Option<ClipUpload> = None;
    let mut bucket_state: Option<String> = None;
    let mut heartbeat = tokio::time::interval(shared.config.progress_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let result = loop {
        let msg = tokio::select! {
            msg = inbox.recv() => msg,
            _ = heartbeat.tick() => {
                let written = upload.as_ref().map_or(0, |u| u.written()) as i64;
                if let Err(err) = shared.db.recording_progress(id, written, now()).await {
                    tracing::warn!(recording_id = %id, error = %err, "could not record clip progress");
                }
                // A bucket upload's parts: what recovery completes should this process die.
                if let Some((upload_id, parts)) = upload.as_ref().and_then(|u| u.bucket_state()) {
                    if bucket_state.as_ref() != Some(&parts) {
                        match shared.db.recording_upload(id, &upload_id, &parts, now()).await {
                            Ok(_) => bucket_state = Some(parts),
                            Err(err) => tracing::warn!(recording_id = %id, error = %err, "could not record the clip's upload"),
                        }
                    }
                }
                continue;
            }
        };
        let Some(msg) = msg else {
            break Err("the recording was interrupted".to_string());
        };
        match msg {
            ClipMsg::Bytes(bytes) => {
                if upload.is_none() {
                    match shared.store.begin(&key).await {
                        Ok(new) => upload = Some(new),
                        Err(err) => break Err(format!("storage refused the clip: {err}")),
                    }
                }
                let writer = upload.as_mut().expect("begun above");
                if let Err(err) = writer.write(bytes).await {
                    break Err(format!("uploading the clip failed: {err}"));
                }
            }
            ClipMsg::Ended { end, duration } => {
                tracing::debug!(recording_id = %id, ?end, ?duration, "clip closed");
                break Ok(duration);
            }
            ClipMsg::NeverStarted => break Err("the camera sent no video".to_string()),
            ClipMsg::Failed(error) => break Err(error),
        }
    };
    let result = match (result, upload) {
        (Ok(duration), Some(upload)) => {
            if let Err(err) = shared.db.recording_uploading(id, now()).await {
                tracing::warn!(recording_id = %id, error = %err, "could not mark a clip uploading");
            }
            complete(&shared, &key, upload, duration).await
        }
        (Ok(_), None) => RecordingResult::Failed {
            error: "the camera sent no video".to_string(),
        },
        (Err(error), upload) => {
            if let Some(upload) = upload {
                if let Err(err) = upload.abort().await {
                    tracing::warn!(recording_id = %id, error = %err, "could not abort a clip's upload");
                }
            }
            RecordingResult::Failed { error }
        }
    };
    finish(&shared, id, Some((&key, session)), result).await;
}

/// Writes a clip's outcome and reports it. A clip whose row had already ended (deleted
/// while it was recorded) has its object removed; its session is released either way.
pub(super) async fn finish(
    shared: &Shared,
    id: Uuid,
    clip: Option<(&str, Option<Uuid>)>,
    result: RecordingResult,
) {
    let released = clip.and_then(|(_, session)| session);
    match shared.db.finish_recording(id, result, now()).await {
        Ok(Some(recording)) => {
            let _ = shared
                .reports
                .send(RecorderReport::Finished {
                    recording: Box::new(recording),
                })
                .await;
            return;
        }
        Ok(None) => {
            if let Some((key, _)) = clip {
                if let Err(err) = shared.store.delete(key).await {
                    tracing::warn!(recording_id = %id, error = %err, "could not remove the object of a deleted clip");
                }
            }
        }
        Err(err) => {
            tracing::warn!(recording_id = %id, error = %err, "could not finish a clip's row")
        }
    }
    if let Some(session) = released {
        let _ = shared
            .reports
            .send(RecorderReport::SessionDone { session })
            .await;
    }
}

/// Sends the last part and checks what storage holds before calling the clip available.
async fn complete(
    shared: &Shared,
    key: &str,
    upload: ClipUpload,
    duration: Duration,
) -> RecordingResult {
    let size = match upload.finish().await {
        Ok(size) => size,
        Err(err) => {
            return RecordingResult::Failed {
                error: format!("completing the upload failed: {err}"),
            }
        }
    };
    match shared.store.size(key).await {
        Ok(Some(stored)) if stored == size => RecordingResult::Available {
            duration_seconds: duration.as_secs_f64(),
            size_bytes: size as i64,
        },
        Ok(stored) => RecordingResult::Failed {
            error: format!("storage holds {stored:?} bytes of the {size} written"),
        },
        Err(err) => RecordingResult::Failed {
            error: format!("checking the stored clip failed: {err}"),
        },
    }
}
