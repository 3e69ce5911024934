//! Events (table `events`): cameras report them (device token), owners and linked viewers
//! read and acknowledge them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use securecam_storage::{now, Event, EventFilter, EventStatus, Page, Trigger};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::events;
use crate::extract::{parse_id, ApiJson, ApiQuery, LinkBase};
use crate::pagination::ListQuery;
use crate::state::AppState;
use crate::types::views::RecordingView;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEvent {
    pub triggered_by: Trigger,
    /// 1 to 200 characters; a default per trigger when left out.
    pub title: Option<String>,
    /// When it started (default: now); within the last 24 hours.
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndEvent {
    /// When it ended (default: now).
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventCreated {
    pub event: Event,
}

/// An event with its clips.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventWithRecordings {
    #[serde(flatten)]
    pub event: Event,
    /// Its newest clips, at most 20 (oldest of them first); all of them are listed by
    /// `GET /api/v1/recordings?event_id=`.
    pub recordings: Vec<RecordingView>,
}

/// Clips embedded in one event at most: an event with thousands of uploads must not make one
/// answer (and one playback token per clip) unbounded.
const EMBEDDED_RECORDINGS: u32 = 20;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    pub camera_device_id: Option<Uuid>,
    pub status: Option<EventStatus>,
    /// Started at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Started before this time.
    pub until: Option<DateTime<Utc>>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn camera(caller: Caller) -> ApiResult<securecam_storage::Device> {
    match caller {
        Caller::Device { device } => Ok(device),
        Caller::User { .. } => Err(ApiError::forbidden(
            "events are reported by cameras: use the camera's device token",
        )),
    }
}

/// A camera reports that something started. The owner and linked users are notified; their
/// connected devices get `event.created` at once.
#[utoipa::path(post, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    request_body = CreateEvent,
    responses((status = 201, body = EventCreated),
              (status = 403, description = "a user token, or `not_a_camera`", body = Problem),
              (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateEvent>,
) -> ApiResult<(StatusCode, Json<EventCreated>)> {
    let camera = camera(caller)?;
    let event = events::start(
        &state,
        &camera,
        body.triggered_by,
        body.title,
        body.started_at,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(EventCreated { event })))
}

/// The camera that reported an event says it is over (again: unchanged).
#[utoipa::path(post, path = "/api/v1/events/{id}/end", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EndEvent,
    responses((status = 200, body = Event), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn end(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Event>> {
    let id = parse_id(&id, "event")?;
    let camera = camera(caller)?;
    // The body is optional: none (or empty) means "ended now".
    let body: EndEvent = if body.iter().all(u8::is_ascii_whitespace) {
        EndEvent::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid body: {e}")))?
    };
    Ok(Json(events::end(&state, &camera, id, body.ended_at).await?))
}

/// Events of the caller's cameras and of cameras linked to the caller, newest first.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    params(EventListQuery), responses((status = 200, body = Page<Event>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EventListQuery>,
) -> ApiResult<Json<Page<Event>>> {
    let page = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let filter = EventFilter {
        camera_device_id: query.camera_device_id,
        status: query.status,
        since: query.since,
        until: query.until,
    };
    Ok(Json(
        state
            .db()
            .list_events(caller.event_viewer(), filter, page)
            .await?,
    ))
}

/// One event with its recordings.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventWithRecordings), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    links: LinkBase,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EventWithRecordings>> {
    let id = parse_id(&id, "event")?;
    let event = state
        .db()
        .get_event(caller.event_viewer(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let who = caller.event_viewer();
    let recordings = state
        .db()
        .event_recordings(event.id, EMBEDDED_RECORDINGS)
        .await?
        .into_iter()
        .map(|r| state.recording_view(r, Some(who), links.as_str()))
        .collect();
    Ok(Json(EventWithRecordings { event, recordings }))
}

/// Mark an event as seen; the other viewers' devices get `event.updated`.
#[utoipa::path(post, path = "/api/v1/events/{id}/acknowledge", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Event), (status = 404, body = Problem)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Event>> {
    let id = parse_id(&id, "event")?;
    let before = now();
    let event = state
        .db()
        .acknowledge_event(caller.event_viewer(), id, before)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    if event.acknowledged_at == Some(before) {
        events::announce_update(&state, &event).await;
    }
    Ok(Json(event))
}
