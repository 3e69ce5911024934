//! Sending a client's command, the same for `POST /api/v1/devices/{id}/commands` and the
//! WebSocket's `command.send`: validate, store and announce (`super::store`), then what the
//! command sets off on the server's side (the recorder records on `start_recording`).

use super::payload::validate_client_command;
use super::store::{store, SendError, SendRequest, Sent, MAX_IDEMPOTENCY_KEY_LEN};
use crate::state::Core;
use crate::types::identity::Sender;

/// Validates, stores and announces a client's command.
pub async fn send(
    core: &Core,
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
    let sent = store(core, sender.clone(), request, payload).await?;
    if !sent.replayed {
        // The camera hears of it too (it may record on its own); the recorder records.
        match sent.command.command_type.as_str() {
            "start_recording" => {
                crate::recording::start_commanded(core, &sender, &sent.command).await
            }
            "stop_recording" => crate::recording::stop_commanded(core, &sent.command).await,
            _ => {}
        }
    }
    Ok(sent)
}
