//! Device links (table `device_links`): a client device allowed to watch a camera.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use securecam_storage::{
    now, AcceptOutcome, DeviceLink, InviteOutcome, LinkOutcome, NewAuditLog, Page,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::tokens::{self, INVITE_PREFIX};
use crate::auth::UserCaller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, ApiQuery, ClientInfo, LinkBase};
use crate::pagination::ListQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateLink {
    pub camera_device_id: Uuid,
    pub client_device_id: Uuid,
}

/// Links of the caller's cameras and links to the caller's devices, newest first.
#[utoipa::path(get, path = "/api/v1/device-links", tag = "links", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<DeviceLink>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: UserCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<DeviceLink>>> {
    Ok(Json(
        state
            .db()
            .list_device_links(caller.user_id(), query.page()?)
            .await?,
    ))
}

/// Link one of the caller's devices to one of the caller's cameras.
#[utoipa::path(post, path = "/api/v1/device-links", tag = "links", security(("bearer" = [])), request_body = CreateLink,
    responses((status = 201, body = DeviceLink), (status = 404, body = Problem),
              (status = 409, description = "`link_exists`", body = Problem),
              (status = 422, description = "`not_a_camera`", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateLink>,
) -> ApiResult<(StatusCode, Json<DeviceLink>)> {
    let audit = NewAuditLog::new("device_link.create").ip(client.ip_string());
    match state
        .db()
        .create_device_link(
            caller.user_id(),
            body.camera_device_id,
            body.client_device_id,
            audit,
        )
        .await?
    {
        LinkOutcome::Created(link) => Ok((StatusCode::CREATED, Json(link))),
        LinkOutcome::NotFound => Err(ApiError::not_found("device")),
        LinkOutcome::NotACamera => Err(ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_camera",
            "camera_device_id is not a camera",
        )),
        LinkOutcome::Exists => Err(ApiError::conflict(
            "link_exists",
            "these devices are already linked",
        )),
    }
}

/// Revoke a link: the client stops seeing the camera; its live views of it end.
#[utoipa::path(delete, path = "/api/v1/device-links/{id}", tag = "links", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "device link")?;
    let audit = NewAuditLog::new("device_link.revoke").ip(client.ip_string());
    state
        .db()
        .revoke_device_link(caller.user_id(), id, audit)
        .await?
        .ok_or_else(|| ApiError::not_found("device link"))?;
    // The client's live views of the camera end now, not at the next sweep.
    crate::streams::end_unwatchable(&state, "access_revoked").await;
    Ok(StatusCode::NO_CONTENT)
}

/// Invites live two days and work once.
const INVITE_LIFETIME_HOURS: i64 = 48;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateInvite {
    pub camera_device_id: Uuid,
}

#[derive(Serialize, ToSchema)]
pub struct Invite {
    /// The secret to pass on; whoever accepts it while signed in gets a link.
    pub code: String,
    pub invite_url: String,
    pub expires_at: DateTime<Utc>,
}

securecam_storage::redacted_debug!(Invite { expires_at; secret: code, invite_url });

#[derive(Deserialize, ToSchema)]
pub struct AcceptInvite {
    pub code: String,
    /// The accepting user's device that may watch the camera.
    pub client_device_id: Uuid,
}

securecam_storage::redacted_debug!(AcceptInvite { client_device_id; secret: code });

/// Invite another person to watch one of the caller's cameras.
#[utoipa::path(post, path = "/api/v1/device-links/invites", tag = "links", security(("bearer" = [])),
    request_body = CreateInvite,
    responses((status = 201, body = Invite), (status = 404, body = Problem),
              (status = 422, description = "`not_a_camera`", body = Problem)))]
pub async fn create_invite(
    State(state): State<AppState>,
    links: LinkBase,
    caller: UserCaller,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateInvite>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    let code = tokens::generate(INVITE_PREFIX);
    let expires_at = now() + Duration::hours(INVITE_LIFETIME_HOURS);
    let audit = NewAuditLog::new("device_link.invite").ip(client.ip_string());
    match state
        .db()
        .create_link_invite(
            caller.user_id(),
            body.camera_device_id,
            &tokens::hash(&code),
            expires_at,
            audit,
        )
        .await?
    {
        InviteOutcome::Created(_) => {
            let invite_url = format!("{}/invite?code={code}", links.as_str());
            Ok((
                StatusCode::CREATED,
                Json(Invite {
                    code,
                    invite_url,
                    expires_at,
                }),
            ))
        }
        InviteOutcome::NotFound => Err(ApiError::not_found("device")),
        InviteOutcome::NotACamera => Err(ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_camera",
            "camera_device_id is not a camera",
        )),
    }
}

/// Accept an invite for one of the caller's devices.
#[utoipa::path(post, path = "/api/v1/device-links/invites/accept", tag = "links", security(("bearer" = [])),
    request_body = AcceptInvite,
    responses((status = 201, body = DeviceLink),
              (status = 404, description = "`invite_not_found` (or not the caller's device)", body = Problem),
              (status = 409, description = "`link_exists`", body = Problem),
              (status = 410, description = "`invite_gone`: expired or used", body = Problem)))]
pub async fn accept_invite(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> ApiResult<(StatusCode, Json<DeviceLink>)> {
    let audit = NewAuditLog::new("device_link.invite_accept")
        .ip(client.ip_string())
        .metadata(serde_json::json!({"accepted_by_user_id": caller.user_id()}));
    match state
        .db()
        .accept_link_invite(
            &tokens::hash(body.code.trim()),
            caller.user_id(),
            body.client_device_id,
            now(),
            audit,
        )
        .await?
    {
        AcceptOutcome::Linked(link) => Ok((StatusCode::CREATED, Json(link))),
        AcceptOutcome::NotFound => Err(ApiError::client(
            StatusCode::NOT_FOUND,
            "invite_not_found",
            "no such invite",
        )),
        AcceptOutcome::Gone => Err(ApiError::client(
            StatusCode::GONE,
            "invite_gone",
            "the invite has expired or was used",
        )),
        AcceptOutcome::Exists => Err(ApiError::conflict(
            "link_exists",
            "this device already watches that camera",
        )),
    }
}
