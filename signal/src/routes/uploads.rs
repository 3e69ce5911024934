//! Device-side clips: a camera that recorded a clip itself (say, while offline) asks for an
//! upload URL, uploads the MP4 there (a presigned `PUT` to the bucket, or to this server for
//! clips on local disk), then says it is done; the clip becomes `available` once the object is
//! there with the size the camera declared.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use securecam_storage::{
    now, Device, EventViewer, NewAuditLog, NewRecording, RecordingResult, RecordingSource,
    RecordingStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, LinkBase};
use crate::routes::recordings::clip_store;
use crate::state::AppState;
use crate::types::views::RecordingView;

/// How long an upload URL works.
const UPLOAD_TTL_SECS: i64 = 15 * 60;
/// The largest clip a device may upload.
const MAX_UPLOAD_BYTES: i64 = 2 * 1024 * 1024 * 1024;
/// The longest clip a device may upload, in seconds.
const MAX_UPLOAD_SECONDS: f64 = 3.0 * 3600.0;
const CONTENT_TYPE_MP4: &str = "video/mp4";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpload {
    /// The event the clip shows, if any (one of this camera's).
    pub event_id: Option<Uuid>,
    /// `video/mp4`.
    pub content_type: String,
    /// The exact size of the file to upload, 1 byte to 2 GiB.
    pub size_bytes: i64,
    /// Its length, up to three hours.
    pub duration_seconds: f64,
}

#[derive(Serialize, ToSchema)]
pub struct UploadTicket {
    pub recording: RecordingView,
    /// Where to send the file, once, with `upload_method`, before `expires_at`.
    pub upload_url: String,
    pub upload_method: String,
    pub expires_at: DateTime<Utc>,
}

securecam_storage::redacted_debug!(UploadTicket { recording, upload_method, expires_at; secret: upload_url });

fn camera(caller: Caller) -> ApiResult<Device> {
    match caller {
        Caller::Device { device } if device.is_camera => Ok(device),
        _ => Err(ApiError::forbidden(
            "clips are uploaded by cameras: use the camera's device token",
        )),
    }
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::client(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        detail,
    )
}

/// A camera asks to upload a clip it recorded; the clip is `uploading` until `complete`.
#[utoipa::path(post, path = "/api/v1/recordings/uploads", tag = "recordings", security(("bearer" = [])),
    request_body = NewUpload,
    responses((status = 201, body = UploadTicket),
              (status = 403, description = "not a camera's device token", body = Problem),
              (status = 404, description = "no such event of this camera", body = Problem),
              (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    links: LinkBase,
    caller: Caller,
    ApiJson(body): ApiJson<NewUpload>,
) -> ApiResult<(StatusCode, Json<UploadTicket>)> {
    let camera = camera(caller)?;
    if body.content_type != CONTENT_TYPE_MP4 {
        return Err(ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_content_type",
            "content_type must be video/mp4",
        ));
    }
    if !(1..=MAX_UPLOAD_BYTES).contains(&body.size_bytes) {
        return Err(invalid("size_bytes must be 1 byte to 2 GiB"));
    }
    if !(body.duration_seconds.is_finite()
        && body.duration_seconds > 0.0
        && body.duration_seconds <= MAX_UPLOAD_SECONDS)
    {
        return Err(invalid(
            "duration_seconds must be above 0 and at most 10800",
        ));
    }
    if let Some(event) = body.event_id {
        let own = EventViewer {
            user_id: camera.user_id,
            device_id: Some(camera.id),
        };
        let found = state.db().get_event(own, event).await?;
        if found.and_then(|e| e.device_id) != Some(camera.id) {
            return Err(ApiError::not_found("event"));
        }
    }
    let clips = clip_store(&state)?;
    let id = securecam_storage::new_id();
    let key = clips.object_key(camera.user_id, id);
    let at = now();
    let expires_at = at + Duration::seconds(UPLOAD_TTL_SECS);
    let upload_url = match clips
        .presigned_put(&key, std::time::Duration::from_secs(UPLOAD_TTL_SECS as u64))
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))?
    {
        Some(url) => url,
        None => {
            let token = state
                .playback()
                .sign_upload(id, camera.user_id, camera.id, expires_at);
            format!(
                "{}/api/v1/recordings/{id}/upload?token={token}",
                links.as_str()
            )
        }
    };
    let new = NewRecording {
        id,
        owner_user_id: camera.user_id,
        stream_session_id: None,
        camera_device_id: Some(camera.id),
        requester_device_id: Some(camera.id),
        event_id: body.event_id,
        object_key: key,
        bucket: clips.bucket().to_string(),
        content_type: CONTENT_TYPE_MP4.to_string(),
        source: RecordingSource::Device,
        size_bytes: Some(body.size_bytes),
        duration_seconds: Some(body.duration_seconds),
    };
    let recording = state.db().create_recording(new, at).await?;
    state
        .audit(
            NewAuditLog::new("recording.upload")
                .owner(camera.user_id)
                .actor_device(Some(camera.id))
                .target("recording", id)
                .metadata(json!({"size_bytes": body.size_bytes})),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadTicket {
            recording: state.recording_view(recording, None, links.as_str()),
            upload_url,
            upload_method: "PUT".to_string(),
            expires_at,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The token of the `upload_url`.
    pub token: Option<String>,
}

/// The `upload_url` of a clip on local disk: the file, streamed to storage as it arrives
/// (never more than the declared size).
#[utoipa::path(put, path = "/api/v1/recordings/{id}/upload", tag = "recordings",
    params(("id" = Uuid, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "video/mp4"),
    responses((status = 200, description = "stored"), (status = 404, body = Problem),
              (status = 413, description = "more than the declared size", body = Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "recording")?;
    // A missing or bad token is the same 404 as a clip that does not exist.
    let claims = query
        .token
        .and_then(|token| state.playback().verify_upload(&token, id, now()))
        .ok_or_else(|| ApiError::not_found("recording"))?;
    let recording = state
        .db()
        .get_recording(claims.viewer(), id)
        .await?
        .filter(|r| r.source == RecordingSource::Device && r.status == RecordingStatus::Uploading)
        .ok_or_else(|| ApiError::not_found("recording"))?;
    let clips = clip_store(&state)?;
    let declared = recording.size_bytes.unwrap_or(0) as u64;
    let unexpected = |e: securecam_recorder::store::StoreError| ApiError::Unexpected(e.into());
    let mut upload = clips
        .begin(&recording.object_key)
        .await
        .map_err(unexpected)?;
    let mut stream = body.into_data_stream();
    loop {
        let chunk = match stream.try_next().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(err) => {
                let _ = upload.abort().await;
                return Err(ApiError::bad_request(
                    "upload_interrupted",
                    format!("the upload broke off: {err}"),
                ));
            }
        };
        if upload.written() + chunk.len() as u64 > declared {
            let _ = upload.abort().await;
            return Err(ApiError::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload_too_large",
                format!("the clip was declared {declared} bytes"),
            ));
        }
        upload.write(chunk).await.map_err(unexpected)?;
    }
    upload.finish().await.map_err(unexpected)?;
    Ok(StatusCode::OK)
}

/// The camera finished uploading: the clip is `available` once its object is there, of the
/// size declared; otherwise 422 and the camera may upload again until the URL expires.
#[utoipa::path(post, path = "/api/v1/recordings/{id}/complete", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RecordingView),
              (status = 403, description = "not a camera's device token", body = Problem),
              (status = 404, body = Problem),
              (status = 422, description = "`upload_missing` or `upload_size_mismatch`", body = Problem)))]
pub async fn complete(
    State(state): State<AppState>,
    links: LinkBase,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordingView>> {
    let id = parse_id(&id, "recording")?;
    let camera = camera(caller)?;
    let own = EventViewer {
        user_id: camera.user_id,
        device_id: Some(camera.id),
    };
    let recording = state
        .db()
        .get_recording(own, id)
        .await?
        .filter(|r| r.source == RecordingSource::Device && r.requester_device_id == Some(camera.id))
        .ok_or_else(|| ApiError::not_found("recording"))?;
    match recording.status {
        RecordingStatus::Uploading => {}
        // Completing again changes nothing.
        RecordingStatus::Available => {
            return Ok(Json(state.recording_view(recording, None, links.as_str())))
        }
        _ => {
            return Err(ApiError::client(
                StatusCode::CONFLICT,
                "upload_closed",
                "this upload failed or was removed",
            ))
        }
    }
    let clips = clip_store(&state)?;
    let declared = recording.size_bytes.unwrap_or(0);
    let stored = clips
        .size(&recording.object_key)
        .await
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    match stored {
        None => {
            return Err(ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upload_missing",
                "nothing was uploaded to the upload URL",
            ))
        }
        Some(size) if size as i64 != declared => {
            return Err(ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upload_size_mismatch",
                format!("{size} bytes were uploaded, {declared} declared"),
            ))
        }
        Some(_) => {}
    }
    let result = RecordingResult::Available {
        duration_seconds: recording.duration_seconds.unwrap_or(0.0),
        size_bytes: declared,
    };
    let finished = state.db().finish_recording(id, result, now()).await?;
    let recording = match finished {
        Some(recording) => {
            crate::reactions::recorder::announce_available(&state, &recording).await;
            recording
        }
        // Completed concurrently: show it as it is.
        None => state
            .db()
            .get_recording(own, id)
            .await?
            .ok_or_else(|| ApiError::not_found("recording"))?,
    };
    Ok(Json(state.recording_view(recording, None, links.as_str())))
}
