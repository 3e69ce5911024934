//! Stream sessions (table `stream_sessions`) and the ICE servers clients use for media.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use securecam_storage::{now, NewAuditLog, StreamReason, StreamSession};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, ClientInfo, LinkBase};
use crate::media::IceServer;
use crate::state::AppState;
use crate::streams;
use crate::types::views::OpenedStream;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStreamSession {
    pub camera_device_id: Uuid,
    /// The caller's device that will watch (with a device token: the caller).
    pub requester_device_id: Uuid,
    pub reason: StreamReason,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working.
    pub expires_at: DateTime<Utc>,
}

/// Watch a camera (the caller's, or one linked to the requester). Answers with the WHEP
/// endpoint and a short-lived subscribe token; the camera is told to publish unless it does.
#[utoipa::path(post, path = "/api/v1/stream-sessions", tag = "streams", security(("bearer" = [])),
    request_body = CreateStreamSession,
    responses((status = 201, body = OpenedStream), (status = 404, body = Problem),
              (status = 422, description = "`not_a_camera`, `invalid_requester`", body = Problem),
              (status = 503, description = "`relay_unavailable`: no media relay is running; see `Retry-After`", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    links: LinkBase,
    caller: Caller,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateStreamSession>,
) -> ApiResult<(StatusCode, Json<OpenedStream>)> {
    let opened = streams::open(
        &state,
        &caller,
        body.camera_device_id,
        body.requester_device_id,
        body.reason,
        client.ip_string(),
        Some(links.as_str()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(opened)))
}

/// One stream session.
#[utoipa::path(get, path = "/api/v1/stream-sessions/{id}", tag = "streams", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = StreamSession), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<StreamSession>> {
    let id = parse_id(&id, "stream session")?;
    state
        .db()
        .get_stream_session(caller.event_viewer(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("stream session"))
}

/// End a session (ending an ended one changes nothing). When no session needs the camera
/// any more it is told to stop after the idle period.
#[utoipa::path(delete, path = "/api/v1/stream-sessions/{id}", tag = "streams", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn end(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "stream session")?;
    let audit = NewAuditLog::new("stream.end")
        .actor_device(caller.device_id())
        .ip(client.ip_string());
    let session = state
        .db()
        .end_stream_session(caller.event_viewer(), id, "ended_by_viewer", now(), audit)
        .await?
        .ok_or_else(|| ApiError::not_found("stream session"))?;
    streams::announce(&state, std::slice::from_ref(&session));
    Ok(StatusCode::NO_CONTENT)
}

/// STUN and TURN servers for WebRTC, TURN with credentials that expire (TURN REST scheme).
#[utoipa::path(get, path = "/api/v1/ice-servers", tag = "streams", security(("bearer" = [])),
    responses((status = 200, body = IceServers), (status = 401, body = Problem)))]
pub async fn ice_servers(State(state): State<AppState>, caller: Caller) -> Json<IceServers> {
    let (ice_servers, expires_at) = state.media().ice_servers(caller.owner_id(), now());
    Json(IceServers {
        ice_servers,
        expires_at,
    })
}
