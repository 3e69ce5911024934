//! `GET /api/v1/ws` (device WebSocket) and `POST /api/v1/ws-tickets` (single-use tickets for
//! browsers, which cannot set an Authorization header on a WebSocket).

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use securecam_storage::now;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::tokens::{self, WS_TICKET_PREFIX};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::ws::connection::{self, MAX_FRAME_BYTES};

const TICKET_LIFETIME_SECS: i64 = 30;
/// What each connection's read buffer starts at; it grows for a larger frame.
const READ_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsQuery {
    /// A ticket from `POST /api/v1/ws-tickets`, instead of an Authorization header.
    pub ticket: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WsTicket {
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}

securecam_storage::redacted_debug!(WsTicket { expires_at; secret: ticket });

/// Open the device's signalling WebSocket (device token or ticket). Frames are JSON text;
/// see the contract for the message set. A newer connection of the same device closes the
/// older with 4001; frames over 64 KiB close with 1009, floods with 1008.
#[utoipa::path(get, path = "/api/v1/ws", tag = "signalling", params(WsQuery), security(("bearer" = [])),
    responses((status = 101, description = "switching to WebSocket"), (status = 401, body = Problem),
              (status = 403, description = "not a device token", body = Problem)))]
pub async fn connect(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WsQuery>,
    upgrade: WsUpgrade,
    parts_caller: OptionalCaller,
) -> ApiResult<Response> {
    let device = match (query.ticket, parts_caller.0) {
        (Some(ticket), _) => state
            .db()
            .use_ws_ticket(&tokens::hash(&ticket), now())
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid, used or expired ticket"))?,
        (None, Some(Caller::Device { device })) => device,
        (None, Some(Caller::User { .. })) => {
            return Err(ApiError::forbidden(
                "the WebSocket is for devices: use a device token",
            ))
        }
        (None, None) => return Err(ApiError::unauthorized("missing device token or ticket")),
    };
    let upgrade = upgrade
        .0
        // Bounded memory per frame; frames over MAX_FRAME_BYTES are closed with 1009 by the
        // connection, larger ones are refused by the library.
        .max_message_size(MAX_FRAME_BYTES * 4)
        .max_frame_size(MAX_FRAME_BYTES * 4)
        // The library's default 128 KiB read buffer is allocated and zeroed per connection up
        // front; signalling frames are small, and the buffer still grows for a large one.
        .read_buffer_size(READ_BUFFER_BYTES);
    Ok(upgrade.on_upgrade(move |socket| connection::run(socket, state, device)))
}

/// Issue a single-use ticket (30 s) to open the WebSocket of the calling device.
#[utoipa::path(post, path = "/api/v1/ws-tickets", tag = "signalling", security(("bearer" = [])),
    responses((status = 201, body = WsTicket), (status = 401, body = Problem),
              (status = 403, description = "not a device token", body = Problem)))]
pub async fn create_ticket(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<WsTicket>)> {
    let Caller::Device { device } = caller else {
        return Err(ApiError::forbidden(
            "tickets are issued to devices: use a device token",
        ));
    };
    let ticket = tokens::generate(WS_TICKET_PREFIX);
    let expires_at = now() + Duration::seconds(TICKET_LIFETIME_SECS);
    state
        .db()
        .create_ws_ticket(device.id, &tokens::hash(&ticket), expires_at)
        .await?;
    Ok((StatusCode::CREATED, Json(WsTicket { ticket, expires_at })))
}

/// The upgrade, with a problem document when the request is not a WebSocket handshake.
pub struct WsUpgrade(WebSocketUpgrade);

impl FromRequestParts<AppState> for WsUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(WsUpgrade)
            .map_err(|e| ApiError::client(e.status(), "websocket_required", e.body_text()))
    }
}

/// The caller when an Authorization header is present (a ticket needs none).
pub struct OptionalCaller(Option<Caller>);

impl FromRequestParts<AppState> for OptionalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            return Ok(OptionalCaller(None));
        }
        Caller::from_request_parts(parts, state)
            .await
            .map(|c| OptionalCaller(Some(c)))
    }
}
