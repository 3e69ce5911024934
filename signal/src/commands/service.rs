//! Sending commands, the same for `POST /api/v1/devices/{id}/commands` and the WebSocket's
//! `command.send`: validate, persist (with audit and, for an offline device, a wake-up
//! push), then tell the target's connection to fetch it. The row is committed before anyone
//! is told, so a crash after the commit loses nothing: the device gets it on reconnect.

use axum::http::StatusCode;
use chrono::Duration;
use securecam_storage::{now, Command, CommandOutcome, NewAuditLog, NewCommand, StorageError};
use serde_json::Value;
use uuid::Uuid;

use super::payload::{validate_client_command, PayloadError};
use crate::error::ApiError;
use crate::state::AppState;

/// Time to live when the sender names none, and the longest one accepted.
pub const DEFAULT_TTL_SECONDS: u64 = 60;
pub const MAX_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// Longest idempotency key accepted (the IETF draft suggests UUIDs; this leaves room).
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Who sends: the user, and the device when a device token or `source_device_id` says so.
#[derive(Debug, Clone)]
pub struct Sender {
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SendRequest {
    pub target_device_id: Uuid,
    pub command_type: String,
    pub payload: Option<Value>,
    pub ttl_seconds: Option<u64>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug)]
pub struct Sent {
    pub command: Command,
    /// An earlier request with the same idempotency key created it.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0:?}")]
    Payload(PayloadError),
    #[error("ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")]
    InvalidTtl,
    #[error("idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters")]
    InvalidIdempotencyKey,
    #[error("the idempotency key was used for a different command")]
    IdempotencyKeyReused,
    #[error("device not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl SendError {
    /// Status, stable code and message, for problem documents and WebSocket `error` frames.
    pub fn describe(&self) -> (StatusCode, &'static str, String) {
        match self {
            SendError::Payload(PayloadError::UnknownType(kind)) => (
                StatusCode::BAD_REQUEST,
                "unknown_command_type",
                format!("unknown command type {kind:?}"),
            ),
            SendError::Payload(PayloadError::ServerIssued(why)) => (
                StatusCode::FORBIDDEN,
                "server_issued_command",
                why.to_string(),
            ),
            SendError::Payload(PayloadError::Invalid(why)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_payload",
                why.clone(),
            ),
            SendError::InvalidTtl => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_ttl",
                self.to_string(),
            ),
            SendError::InvalidIdempotencyKey => (
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                self.to_string(),
            ),
            SendError::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                self.to_string(),
            ),
            SendError::NotFound => (StatusCode::NOT_FOUND, "not_found", self.to_string()),
            SendError::Storage(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the command could not be stored".to_string(),
            ),
        }
    }
}

impl From<SendError> for ApiError {
    fn from(err: SendError) -> Self {
        match err {
            SendError::Storage(err) => err.into(),
            other => {
                let (status, code, detail) = other.describe();
                ApiError::client(status, code, detail)
            }
        }
    }
}

/// Validates, stores and announces a client's command.
pub async fn send(
    state: &AppState,
    sender: Sender,
    mut request: SendRequest,
) -> Result<Sent, SendError> {
    // `store` takes the validated payload; the request's own copy is not needed again.
    let payload = validate_client_command(&request.command_type, request.payload.take())
        .map_err(SendError::Payload)?;
    if let Some(key) = &request.idempotency_key {
        let printable = key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !printable {
            return Err(SendError::InvalidIdempotencyKey);
        }
    }
    let sent = store(state, sender.clone(), request, payload).await?;
    if !sent.replayed {
        // The camera hears of it too (it may record on its own); the recorder records.
        match sent.command.command_type.as_str() {
            "start_recording" => {
                crate::recording::start_commanded(state, &sender, &sent.command).await
            }
            "stop_recording" => crate::recording::stop_commanded(state, &sent.command).await,
            _ => {}
        }
    }
    Ok(sent)
}

/// Stores and announces a command the server issues (`start_stream`, `stop_stream`), whose
/// payload it built itself.
pub async fn send_from_server(
    state: &AppState,
    sender: Sender,
    target_device_id: Uuid,
    command_type: &str,
    payload: Value,
    ttl_seconds: u64,
) -> Result<Command, SendError> {
    let request = SendRequest {
        target_device_id,
        command_type: command_type.to_string(),
        payload: None,
        ttl_seconds: Some(ttl_seconds),
        idempotency_key: None,
    };
    Ok(store(state, sender, request, payload).await?.command)
}

async fn store(
    state: &AppState,
    sender: Sender,
    request: SendRequest,
    payload: Value,
) -> Result<Sent, SendError> {
    let ttl = request.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(SendError::InvalidTtl);
    }
    let at = now();
    let new = NewCommand {
        sender_user_id: sender.user_id,
        sender_device_id: sender.device_id,
        target_device_id: request.target_device_id,
        command_type: request.command_type.clone(),
        payload: payload.clone(),
        expires_at: at + Duration::seconds(ttl as i64),
        idempotency_key: request.idempotency_key,
        target_connected: state.hub().is_online(request.target_device_id),
    };
    let audit = NewAuditLog::new("command.create")
        .actor_device(sender.device_id)
        .ip(sender.ip)
        .metadata(serde_json::json!({"command_type": request.command_type}));
    match state.db().create_command(new, at, audit).await? {
        CommandOutcome::Created {
            command,
            wake_up_queued,
        } => {
            if wake_up_queued {
                tracing::debug!(command_id = %command.id, "target offline; wake-up push queued");
            }
            state.commands_pending(command.target_device_id);
            Ok(Sent {
                command,
                replayed: false,
            })
        }
        CommandOutcome::Replayed(command) => {
            if command.command_type != request.command_type || command.payload != payload {
                return Err(SendError::IdempotencyKeyReused);
            }
            Ok(Sent {
                command,
                replayed: true,
            })
        }
        CommandOutcome::NotFound => Err(SendError::NotFound),
    }
}

/// Tells the device that sent a command (if a device did) what became of it.
pub fn announce_update(state: &AppState, command: &Command) {
    if let Some(source) = command.source_device_id {
        let message = crate::ws::protocol::ServerMessage::CommandUpdated {
            command: command.clone(),
        };
        if !state.hub().send(source, &message) {
            // Perhaps connected to another node, which reads the command itself (it may be
            // too large for a bus message).
            state.bus().publish(crate::bus::BusMessage::CommandUpdated {
                device: source,
                command: command.id,
            });
        }
    }
}
