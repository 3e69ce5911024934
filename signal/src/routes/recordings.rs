//! Recordings (table `recordings`): clips of the caller's cameras and of cameras linked to the
//! caller; playback with HTTP Range from local disk or by redirect to a presigned URL; owners
//! delete.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use securecam_recorder::store::ClipStore;
use securecam_storage::{now, NewAuditLog, Page, RecordingFilter, RecordingStatus};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::{authenticate, bearer_token, check_rights, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiQuery, LinkBase};
use crate::pagination::ListQuery;
use crate::state::AppState;
use crate::types::views::RecordingView;

/// How long the presigned URL an S3 clip redirects to works: only to start the download.
const PRESIGNED_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// The clip storage, or 503 when this server has none.
pub(crate) fn clip_store(state: &AppState) -> ApiResult<&ClipStore> {
    state.media().clips.as_ref().ok_or_else(|| {
        ApiError::unavailable("storage_unavailable", "clip storage is not configured", 60)
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordingListQuery {
    pub camera_device_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    /// Created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Created before this time.
    pub until: Option<DateTime<Utc>>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Clips of the caller's cameras and of cameras linked to the caller, newest first.
#[utoipa::path(get, path = "/api/v1/recordings", tag = "recordings", security(("bearer" = [])),
    params(RecordingListQuery),
    responses((status = 200, body = Page<RecordingView>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    links: LinkBase,
    caller: Caller,
    ApiQuery(query): ApiQuery<RecordingListQuery>,
) -> ApiResult<Json<Page<RecordingView>>> {
    let page = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let filter = RecordingFilter {
        camera_device_id: query.camera_device_id,
        event_id: query.event_id,
        since: query.since,
        until: query.until,
    };
    let who = caller.event_viewer();
    let page = state.db().list_recordings(who, filter, page).await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|r| state.recording_view(r, Some(who), links.as_str()))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One clip.
#[utoipa::path(get, path = "/api/v1/recordings/{id}", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordingView), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    links: LinkBase,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordingView>> {
    let id = parse_id(&id, "recording")?;
    let who = caller.event_viewer();
    let recording = state
        .db()
        .get_recording(who, id)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    Ok(Json(state.recording_view(
        recording,
        Some(who),
        links.as_str(),
    )))
}

/// Deletes a clip of the caller's camera: gone from the API at once, its object removed.
#[utoipa::path(delete, path = "/api/v1/recordings/{id}", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "not the caller's clip", body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "recording")?;
    let audit = NewAuditLog::new("recording.delete")
        .actor_device(caller.device_id())
        .target("recording", id);
    let recording = state
        .db()
        .delete_recording(caller.owner_id(), id, now(), audit)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    crate::recording::feed::clip_deleted(&state, &recording);
    if let Some(clips) = &state.media().clips {
        // The row is gone from the API already; an object left behind is the orphan sweep's.
        if let Err(err) = clips.delete(&recording.object_key).await {
            tracing::warn!(recording_id = %id, error = %err, "could not delete a clip's object");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MediaQuery {
    /// The token of a `playback_url` (instead of a bearer token).
    pub token: Option<String>,
}

/// The clip's MP4: served with HTTP Range from local disk, or a redirect to a short-lived
/// presigned URL of the bucket. A bearer token or a `playback_url`'s token; the clip is looked
/// up for that viewer every time.
#[utoipa::path(get, path = "/api/v1/recordings/{id}/media", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path), MediaQuery),
    responses((status = 200, description = "the MP4", content_type = "video/mp4"),
              (status = 206, description = "the requested range"),
              (status = 307, description = "to a presigned object URL"),
              (status = 404, body = Problem)))]
pub async fn media(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<MediaQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "recording")?;
    let (who, actor) = match &query.token {
        // Any bad playback token is the same 404 as a clip that does not exist.
        Some(token) => {
            let claims = state
                .playback()
                .verify(token, id, now())
                .ok_or_else(|| ApiError::not_found("recording"))?;
            (claims.viewer(), claims.did)
        }
        None => {
            let caller = authenticate(&state, bearer_token(request.headers())?).await?;
            check_rights(
                &caller,
                request.method(),
                request.uri(),
                request.extensions(),
            )?;
            (caller.event_viewer(), caller.device_id())
        }
    };
    let recording = state
        .db()
        .get_recording(who, id)
        .await?
        .filter(|r| r.status == RecordingStatus::Available)
        .ok_or_else(|| ApiError::not_found("recording"))?;
    let clips = clip_store(&state)?;
    // One audit row per viewing, not per range request of the player.
    let first_request = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|range| range.trim_start_matches("bytes=").starts_with("0-"));
    if first_request {
        let audit = NewAuditLog::new("recording.view")
            .owner(recording.owner_user_id)
            .actor_device(actor)
            .target("recording", id)
            .metadata(json!({"viewer_user_id": who.user_id}));
        state.audit(audit).await?;
    }
    if let Some(path) = clips.local_path(&recording.object_key) {
        // `.mp4`: served as video/mp4.
        let response = ServeFile::new(path)
            .oneshot(request)
            .await
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("serving a clip: {e}")))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(ApiError::not_found("recording"));
        }
        let mut response = response.into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("private, max-age=300"),
        );
        return Ok(response);
    }
    match clips
        .presigned_get(&recording.object_key, PRESIGNED_TTL)
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))?
    {
        Some(url) => Ok(Redirect::temporary(&url).into_response()),
        None => Err(ApiError::unavailable(
            "storage_unavailable",
            "this clip storage cannot serve clips",
            60,
        )),
    }
}
