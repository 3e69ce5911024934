//! Events reported by cameras, the same over REST and the WebSocket: store the event with its
//! notifications and push deliveries in one transaction, then tell the owner's and linked
//! viewers' connected devices at once.

use chrono::{DateTime, Duration, Utc};
use securecam_storage::{now, Device, EndOutcome, Event, NewEvent, StorageError, Trigger};
use uuid::Uuid;

use crate::fanout::to_camera_audience;
use crate::recording::{self, feed};
use crate::state::Core;
use crate::types::protocol::ServerMessage;
use crate::types::text::refused_character;

const MAX_TITLE_CHARS: usize = 200;
/// A camera's clock may run a little ahead; further than this is a mistake.
const MAX_CLOCK_SKEW_SECS: i64 = 60;
/// Events are reported as they happen: a start older than this is refused.
const MAX_BACKDATE_HOURS: i64 = 24;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("only cameras report events")]
    NotACamera,
    #[error("{0}")]
    Invalid(String),
    #[error("event not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl EventError {
    /// The stable code of problem documents and WebSocket `error` frames.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::NotACamera => "not_a_camera",
            EventError::Invalid(_) => "validation_failed",
            EventError::NotFound => "not_found",
            EventError::Storage(_) => "internal_error",
        }
    }

    /// What the client is told (never the storage error itself).
    pub fn public_message(&self) -> String {
        match self {
            EventError::Storage(_) => "the event could not be stored".to_string(),
            other => other.to_string(),
        }
    }
}

fn default_title(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Motion => "Motion detected",
        Trigger::Sound => "Sound detected",
        Trigger::Person => "Person detected",
        Trigger::Manual => "Manual event",
    }
}

/// A camera reports that something started.
pub async fn start(
    core: &Core,
    camera: &Device,
    triggered_by: Trigger,
    title: Option<String>,
    started_at: Option<DateTime<Utc>>,
) -> Result<Event, EventError> {
    if !camera.is_camera {
        return Err(EventError::NotACamera);
    }
    let title = match title.map(|t| t.trim().to_string()) {
        Some(t) if t.is_empty() || t.chars().count() > MAX_TITLE_CHARS => {
            return Err(EventError::Invalid(format!(
                "title must be 1 to {MAX_TITLE_CHARS} characters"
            )))
        }
        Some(t) if refused_character(&t).is_some() => {
            return Err(EventError::Invalid(
                "title must not contain control or bidirectional-override characters".into(),
            ))
        }
        Some(t) => t,
        None => default_title(triggered_by).to_string(),
    };
    let at = now();
    let started_at = started_at.unwrap_or(at);
    if started_at > at + Duration::seconds(MAX_CLOCK_SKEW_SECS)
        || started_at < at - Duration::hours(MAX_BACKDATE_HOURS)
    {
        return Err(EventError::Invalid(format!(
            "started_at must be within the last {MAX_BACKDATE_HOURS} hours and not in the future"
        )));
    }
    let event = core
        .db()
        .create_event(
            NewEvent {
                camera_device_id: camera.id,
                owner_user_id: camera.user_id,
                title,
                triggered_by,
                started_at,
            },
            at,
        )
        .await?;
    let message = ServerMessage::EventCreated {
        event: event.clone(),
    };
    to_camera_audience(core, camera.user_id, camera.id, true, &message).await;
    recording::event_started(core, &event).await;
    Ok(event)
}

/// The camera that reported an event says it is over. Ending it again changes nothing.
pub async fn end(
    core: &Core,
    camera: &Device,
    id: Uuid,
    ended_at: Option<DateTime<Utc>>,
) -> Result<Event, EventError> {
    let at = now();
    let ended_at = ended_at.unwrap_or(at);
    if ended_at > at + Duration::seconds(MAX_CLOCK_SKEW_SECS) {
        return Err(EventError::Invalid("ended_at is in the future".into()));
    }
    match core.db().end_event(camera.id, id, ended_at, at).await? {
        EndOutcome::Ended(event) => {
            feed::event_ended(core, &event);
            announce_update(core, &event).await;
            Ok(event)
        }
        EndOutcome::AlreadyEnded(event) => Ok(event),
        EndOutcome::EndsBeforeStart(_) => Err(EventError::Invalid(
            "ended_at is before the event started".into(),
        )),
        EndOutcome::NotFound => Err(EventError::NotFound),
    }
}

/// Tells the camera's audience that an event changed (ended, acknowledged).
pub async fn announce_update(core: &Core, event: &Event) {
    if let Some(camera) = event.device_id {
        let message = ServerMessage::EventUpdated {
            event: event.clone(),
        };
        to_camera_audience(core, event.user_id, camera, true, &message).await;
    }
}
