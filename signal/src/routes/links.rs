//! Device links (table `device_links`): a client device allowed to watch a camera.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use securecam_storage::{DeviceLink, LinkOutcome, NewAuditLog, Page};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::UserCaller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, ApiQuery, ClientInfo};
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

/// Revoke a link: the client stops seeing the camera.
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
    Ok(StatusCode::NO_CONTENT)
}
