//! Events reported by cameras, the same over REST and the WebSocket: store the event with its
//! notifications and push deliveries in one transaction, then tell the owner's and linked
//! viewers' connected devices at once.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use securecam_storage::{now, Device, EndOutcome, Event, NewEvent, StorageError, Trigger};
use uuid::Uuid;

use crate::error::ApiError;
use crate::fanout::to_camera_audience;
use crate::state::AppState;
use crate::ws::protocol::ServerMessage;

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
    /// Status, stable code and message, for problem documents and WebSocket `error` frames.
    pub fn describe(&self) -> (StatusCode, &'static str, String) {
        match self {
            EventError::NotACamera => (StatusCode::FORBIDDEN, "not_a_camera", self.to_string()),
            EventError::Invalid(why) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                why.clone(),
            ),
            EventError::NotFound => (StatusCode::NOT_FOUND, "not_found", self.to_string()),
            EventError::Storage(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the event could not be stored".to_string(),
            ),
        }
    }
}

impl From<EventError> for ApiError {
    fn from(err: EventError) -> Self {
        match err {
            EventError::Storage(err) => err.into(),
            other => {
                let (status, code, detail) = other.describe();
                ApiError::client(status, code, detail)
            }
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
    state: &AppState,
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
    let event = state
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
    to_camera_audience(state, camera.user_id, camera.id, true, &message).await;
    crate::recording::event_started(state, &event).await;
    Ok(event)
}

/// The camera that reported an event says it is over. Ending it again changes nothing.
pub async fn end(
    state: &AppState,
    camera: &Device,
    id: Uuid,
    ended_at: Option<DateTime<Utc>>,
) -> Result<Event, EventError> {
    let at = now();
    let ended_at = ended_at.unwrap_or(at);
    if ended_at > at + Duration::seconds(MAX_CLOCK_SKEW_SECS) {
        return Err(EventError::Invalid("ended_at is in the future".into()));
    }
    match state.db().end_event(camera.id, id, ended_at, at).await? {
        EndOutcome::Ended(event) => {
            crate::recording::event_ended(state, &event);
            announce_update(state, &event).await;
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
pub async fn announce_update(state: &AppState, event: &Event) {
    if let Some(camera) = event.device_id {
        let message = ServerMessage::EventUpdated {
            event: event.clone(),
        };
        to_camera_audience(state, event.user_id, camera, true, &message).await;
    }
}
