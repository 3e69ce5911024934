//! Commands (table `commands`): `POST /api/v1/devices/{id}/commands`, reading them back, and
//! cancelling one that has not been answered.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use securecam_storage::{now, CancelOutcome, Command, CommandStatus, NewAuditLog, Page};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::commands::send::send;
use crate::commands::store::SendRequest;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, ApiQuery, ClientInfo};
use crate::pagination::ListQuery;
use crate::state::AppState;
use crate::types::identity::Sender;

/// The header a client sets to make a retried POST return the first command.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommand {
    /// One of `stop_stream`, `take_snapshot`, `start_recording`, `stop_recording`,
    /// `set_motion_detection`, `switch_camera`, `set_torch`, `play_siren`, `ping`
    /// (`start_stream` is issued by the server through stream sessions).
    pub command_type: String,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// Seconds before an unanswered command expires: 1 to 604800, default 60.
    pub ttl_seconds: Option<u64>,
    /// With a user token: the user's device the command comes from (required to command a
    /// camera linked to that device). With a device token it can only be the caller.
    pub source_device_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommandCreated {
    pub command: Command,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommandListQuery {
    /// Only commands in this status.
    pub status: Option<CommandStatus>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Send a command to a device: the caller's own, or a camera linked to the source device.
/// Answered at once with the stored command (`queued`); the device gets it over its
/// WebSocket now or when it next connects. With `Idempotency-Key`, a retried request returns
/// the first command (header `Idempotent-Replayed: true`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/commands", tag = "commands", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body = CreateCommand,
    responses((status = 202, body = CommandCreated),
              (status = 400, description = "`unknown_command_type`, `invalid_idempotency_key`", body = Problem),
              (status = 403, description = "`server_issued_command`", body = Problem),
              (status = 404, body = Problem),
              (status = 422, description = "`invalid_payload`, `invalid_ttl`, `idempotency_key_reused`, `invalid_source_device`", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateCommand>,
) -> ApiResult<Response> {
    let target = parse_id(&id, "device")?;
    let sender = match &caller {
        Caller::User { session } => Sender {
            user_id: session.user_id,
            device_id: body.source_device_id,
            ip: client.ip_string(),
        },
        Caller::Device { device } => {
            if body.source_device_id.is_some_and(|s| s != device.id) {
                return Err(ApiError::client(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_source_device",
                    "with a device token the source is the calling device",
                ));
            }
            Sender {
                user_id: device.user_id,
                device_id: Some(device.id),
                ip: client.ip_string(),
            }
        }
    };
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| {
                    ApiError::bad_request(
                        "invalid_idempotency_key",
                        "Idempotency-Key must be ASCII",
                    )
                })?
                .to_string(),
        ),
    };
    let request = SendRequest {
        target_device_id: target,
        command_type: body.command_type,
        payload: body.payload,
        ttl_seconds: body.ttl_seconds,
        idempotency_key,
    };
    let sent = send(&state, sender, request).await?;
    let mut response = (
        StatusCode::ACCEPTED,
        Json(CommandCreated {
            command: sent.command,
        }),
    )
        .into_response();
    if sent.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// One command: a user sees what they own or sent, a device what it received or sent.
#[utoipa::path(get, path = "/api/v1/commands/{id}", tag = "commands", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Command), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Command>> {
    let id = parse_id(&id, "command")?;
    state
        .db()
        .get_command(caller.command_viewer(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("command"))
}

/// Commands to a device, newest first (of a linked camera: those the caller sent).
#[utoipa::path(get, path = "/api/v1/devices/{id}/commands", tag = "commands", security(("bearer" = [])),
    params(("id" = Uuid, Path), CommandListQuery),
    responses((status = 200, body = Page<Command>), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<CommandListQuery>,
) -> ApiResult<Json<Page<Command>>> {
    let device = parse_id(&id, "device")?;
    let page = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    state
        .db()
        .list_device_commands(caller.command_viewer(), device, query.status, page)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("device"))
}

/// Cancel a command that has not been answered yet (by its owner or sender).
#[utoipa::path(post, path = "/api/v1/commands/{id}/cancel", tag = "commands", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Command), (status = 404, body = Problem),
              (status = 409, description = "`command_finished`", body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Command>> {
    let id = parse_id(&id, "command")?;
    let audit = NewAuditLog::new("command.cancel")
        .actor_device(caller.device_id())
        .ip(client.ip_string());
    match state
        .db()
        .cancel_command(caller.command_viewer(), id, now(), audit)
        .await?
    {
        CancelOutcome::Cancelled(command) => {
            state.outbox().command_updated(&command);
            Ok(Json(command))
        }
        CancelOutcome::AlreadyFinished(command) => Err(ApiError::conflict(
            "command_finished",
            format!("command is already {}", command.status),
        )),
        CancelOutcome::NotFound => Err(ApiError::not_found("command")),
    }
}
