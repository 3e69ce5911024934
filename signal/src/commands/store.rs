//! Storing commands: persist (with audit and, for an offline device, a wake-up push), then
//! tell the target's connection to fetch it. The row is committed before anyone is told, so a
//! crash after the commit loses nothing: the device gets it on reconnect. Clients' commands
//! come through `super::send`, which validates them first; the server's own (`start_stream`,
//! `stop_stream`) through [`send_from_server`].

use chrono::Duration;
use securecam_storage::{now, Command, CommandOutcome, NewAuditLog, NewCommand, StorageError};
use serde_json::Value;
use uuid::Uuid;

use super::payload::PayloadError;
use crate::state::Core;
use crate::types::identity::Sender;

/// Time to live when the sender names none, and the longest one accepted.
pub const DEFAULT_TTL_SECONDS: u64 = 60;
pub const MAX_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// Longest idempotency key accepted (the IETF draft suggests UUIDs; this leaves room).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

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
    /// The stable code of problem documents and WebSocket `error` frames.
    pub fn code(&self) -> &'static str {
        match self {
            SendError::Payload(PayloadError::UnknownType(_)) => "unknown_command_type",
            SendError::Payload(PayloadError::ServerIssued(_)) => "server_issued_command",
            SendError::Payload(PayloadError::Invalid(_)) => "invalid_payload",
            SendError::InvalidTtl => "invalid_ttl",
            SendError::InvalidIdempotencyKey => "invalid_idempotency_key",
            SendError::IdempotencyKeyReused => "idempotency_key_reused",
            SendError::NotFound => "not_found",
            SendError::Storage(_) => "internal_error",
        }
    }

    /// What the client is told (never the storage error itself).
    pub fn public_message(&self) -> String {
        match self {
            SendError::Payload(PayloadError::UnknownType(kind)) => {
                format!("unknown command type {kind:?}")
            }
            SendError::Payload(PayloadError::ServerIssued(why)) => why.to_string(),
            SendError::Payload(PayloadError::Invalid(why)) => why.clone(),
            SendError::Storage(_) => "the command could not be stored".to_string(),
            other => other.to_string(),
        }
    }
}

/// Stores and announces a command the server issues (`start_stream`, `stop_stream`), whose
/// payload it built itself.
pub async fn send_from_server(
    core: &Core,
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
    Ok(store(core, sender, request, payload).await?.command)
}

pub(super) async fn store(
    core: &Core,
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
        target_connected: core.outbox().is_online_here(request.target_device_id),
    };
    let audit = NewAuditLog::new("command.create")
        .actor_device(sender.device_id)
        .ip(sender.ip)
        .metadata(serde_json::json!({"command_type": request.command_type}));
    match core.db().create_command(new, at, audit).await? {
        CommandOutcome::Created {
            command,
            wake_up_queued,
        } => {
            if wake_up_queued {
                tracing::debug!(command_id = %command.id, "target offline; wake-up push queued");
            }
            core.outbox().commands_pending(command.target_device_id);
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
