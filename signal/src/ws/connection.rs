//! The driver of one device's WebSocket: reads frames, writes the hub's queue, sends
//! heartbeats, and keeps the device's presence true. All decisions that need no socket
//! (parsing, flood control, registration) live elsewhere; this only moves bytes and time.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use securecam_storage::{now, AckOutcome, CommandAck, CommandStatus, Device, DeviceStatus};
use serde_json::Value;

use super::flood::FloodGuard;
use super::hub::close;
use crate::auth::rights;
use crate::commands::delivery;
use crate::commands::send::send;
use crate::commands::store::{SendError, SendRequest};
use crate::state::AppState;
use crate::types::identity::Sender;
use crate::types::protocol::{self, ClientMessage, ServerMessage};

/// Frames over this many bytes close the connection with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Burst and sustained frames per second a device may send before 1008.
const FLOOD_BURST: u32 = 100;
const FLOOD_PER_SECOND: u32 = 50;

pub async fn run(socket: WebSocket, state: AppState, device: Device) {
    let hub = state.hub();
    let mut registration = hub.register(device.id, device.user_id);
    // An older connection of this device on another node goes (4001) as it would here.
    state.outbox().device_connected(device.id);
    let heartbeat = state.config().ws_heartbeat_interval();
    let (mut sink, mut stream) = socket.split();

    let device = set_presence(&state, &device, DeviceStatus::Online)
        .await
        .unwrap_or(device);
    let hello = ServerMessage::Hello {
        heartbeat_interval_ms: heartbeat.as_millis() as u64,
        server_time: now(),
        device: device.clone(),
    };
    if sink.send(text(hello.to_json())).await.is_err() {
        finish(&state, &device, registration.connection).await;
        return;
    }
    // Everything still pending, oldest first, before anything else happens on this socket.
    let mut after_connect = true;

    let mut flood = FloodGuard::new(FLOOD_BURST, FLOOD_PER_SECOND, Instant::now());
    let mut last_heard = Instant::now();
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.tick().await;
    let close_with = loop {
        if after_connect {
            // Deliver the backlog; later rounds only what the hub's wake-ups or the retry
            // sweeper say is due.
            if deliver(&state, &device, true, &mut sink).await.is_err() {
                break None;
            }
            after_connect = false;
        }
        tokio::select! {
            _ = registration.wake.notified() => {
                if deliver(&state, &device, false, &mut sink).await.is_err() {
                    break None;
                }
            }
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break None };
                last_heard = Instant::now();
                match message {
                    Message::Text(body) => {
                        if body.len() > MAX_FRAME_BYTES {
                            break Some((close::TOO_BIG, "frame too large"));
                        }
                        if !flood.allow(last_heard) {
                            break Some((close::POLICY, "too many messages"));
                        }
                        if let Some(reply) = handle(&state, &device, body.as_str()).await {
                            if sink.send(text(reply.to_json())).await.is_err() {
                                break None;
                            }
                        }
                    }
                    Message::Binary(body) => {
                        if body.len() > MAX_FRAME_BYTES {
                            break Some((close::TOO_BIG, "frame too large"));
                        }
                        if !flood.allow(last_heard) {
                            break Some((close::POLICY, "too many messages"));
                        }
                        let reply = ServerMessage::Error {
                            code: "invalid_message",
                            message: "frames are JSON text".to_string(),
                            reference: None,
                        };
                        if sink.send(text(reply.to_json())).await.is_err() {
                            break None;
                        }
                    }
                    Message::Close(_) => break None,
                    // Pings are answered by the library; any frame is a sign of life.
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            queued = registration.outbound.recv() => {
                // The hub drops the queue when it replaces or closes this connection: the
                // close request, if any, says how to end.
                let Some(frame) = queued else { break *registration.close.borrow() };
                if sink.send(text(frame)).await.is_err() {
                    break None;
                }
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > heartbeat * 2 {
                    tracing::debug!(device_id = %device.id, "missed heartbeats; closing");
                    break Some((close::GOING_AWAY, "missed heartbeats"));
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            changed = registration.close.changed() => {
                let request = *registration.close.borrow();
                match (changed, request) {
                    (_, Some(request)) => break Some(request),
                    (Err(_), None) => break None,
                    (Ok(()), None) => {}
                }
            }
        }
    };
    if let Some((code, reason)) = close_with {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        // Send our Close and wait (briefly) for the peer's: dropping the socket with its
        // frames still unread would reset the connection and lose the close code.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            if sink.send(Message::Close(Some(frame))).await.is_ok() {
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            }
        })
        .await;
    }
    finish(&state, &device, registration.connection).await;
}

fn text(frame: String) -> Message {
    Message::Text(frame.into())
}

/// Claims the device's commands and writes them to the socket, oldest first, in batches.
async fn deliver<S>(
    state: &AppState,
    device: &Device,
    after_connect: bool,
    sink: &mut S,
) -> Result<(), ()>
where
    S: futures::Sink<Message> + Unpin,
{
    let mut everything = after_connect;
    loop {
        let batch = delivery::claim(state, device.id, everything).await;
        let full = batch.len() as u32 == delivery::CLAIM_BATCH;
        for command in batch {
            let frame = ServerMessage::Command { command };
            sink.send(text(frame.to_json())).await.map_err(|_| ())?;
        }
        if !full {
            return Ok(());
        }
        // The rest of a long backlog is due now (queued commands are due when created).
        everything = false;
    }
}

/// Answers one text frame; `None` when it needs no answer.
async fn handle(state: &AppState, device: &Device, body: &str) -> Option<ServerMessage> {
    match protocol::parse(body) {
        Ok(ClientMessage::Ping { reference, battery }) => {
            if let Some(battery) = battery {
                match battery.reading() {
                    Ok(reading) => {
                        if let Err(err) = state.db().record_battery(device.id, reading, now()).await
                        {
                            tracing::warn!(device_id = %device.id, error = %err, "could not record the battery");
                        }
                    }
                    Err(message) => {
                        return Some(ServerMessage::Error {
                            code: "invalid_message",
                            message,
                            reference,
                        })
                    }
                }
            }
            Some(ServerMessage::Pong { reference })
        }
        Ok(ClientMessage::CommandAck {
            reference,
            command_id,
            status,
            error,
            result,
        }) => acknowledge(state, device, reference, command_id, status, error, result).await,
        Ok(ClientMessage::CommandSend {
            reference,
            target_device_id,
            command_type,
            payload,
            ttl_seconds,
            idempotency_key,
        }) => {
            // Commands are the owner's to send: a stolen camera phone must not sound the
            // siren or open live views on the other cameras (see `auth::rights`).
            if device.is_camera {
                return Some(ServerMessage::Error {
                    code: rights::CAMERA_NOT_ALLOWED,
                    message: rights::CAMERA_NOT_ALLOWED_DETAIL.to_string(),
                    reference,
                });
            }
            let sender = Sender {
                user_id: device.user_id,
                device_id: Some(device.id),
                ip: None,
            };
            let request = SendRequest {
                target_device_id,
                command_type,
                payload,
                ttl_seconds,
                idempotency_key,
            };
            Some(match send(state, sender, request).await {
                Ok(sent) => ServerMessage::CommandAccepted {
                    reference,
                    command: sent.command,
                },
                Err(err) => {
                    if let SendError::Storage(cause) = &err {
                        tracing::error!(device_id = %device.id, error = %cause, "command.send failed");
                    }
                    ServerMessage::Error {
                        code: err.code(),
                        message: err.public_message(),
                        reference,
                    }
                }
            })
        }
        Ok(ClientMessage::EventStart {
            reference,
            triggered_by,
            title,
            started_at,
        }) => Some(
            match crate::events::start(state, device, triggered_by, title, started_at).await {
                Ok(event) => ServerMessage::EventStarted { reference, event },
                Err(err) => event_error(device, err, reference),
            },
        ),
        Ok(ClientMessage::EventEnd {
            reference,
            event_id,
            ended_at,
        }) => Some(
            match crate::events::end(state, device, event_id, ended_at).await {
                Ok(event) => ServerMessage::EventEnded { reference, event },
                Err(err) => event_error(device, err, reference),
            },
        ),
        Err(bad) => Some(bad.into_message()),
    }
}

fn event_error(
    device: &Device,
    err: crate::events::EventError,
    reference: Option<Value>,
) -> ServerMessage {
    if let crate::events::EventError::Storage(cause) = &err {
        tracing::error!(device_id = %device.id, error = %cause, "event could not be stored");
    }
    ServerMessage::Error {
        code: err.code(),
        message: err.public_message(),
        reference,
    }
}

async fn acknowledge(
    state: &AppState,
    device: &Device,
    reference: Option<Value>,
    command_id: uuid::Uuid,
    status: CommandStatus,
    error: Option<String>,
    result: Option<Value>,
) -> Option<ServerMessage> {
    let error_frame = |code: &'static str, message: &str| {
        Some(ServerMessage::Error {
            code,
            message: message.to_string(),
            reference: reference.clone(),
        })
    };
    if !matches!(status, CommandStatus::Acknowledged | CommandStatus::Failed) {
        return error_frame(
            "invalid_message",
            "status must be \"acknowledged\" or \"failed\"",
        );
    }
    let ack = CommandAck {
        status,
        error,
        result,
    };
    match state
        .db()
        .acknowledge_command(device.id, command_id, ack, now())
        .await
    {
        Ok(AckOutcome::Recorded(command)) => {
            state.outbox().command_updated(&command);
            crate::streams::on_command_answer(state, &command).await;
            None
        }
        // A repeated ack (the retry crossed the first one) changes nothing and needs no answer.
        Ok(AckOutcome::AlreadyFinished(command)) if command.status == status => None,
        Ok(AckOutcome::AlreadyFinished(command)) => error_frame(
            "command_finished",
            &format!("command is already {}", command.status),
        ),
        Ok(AckOutcome::NotFound) => {
            error_frame("command_not_found", "no such command for this device")
        }
        Err(err) => {
            tracing::error!(device_id = %device.id, error = %err, "could not record command ack");
            error_frame(
                "internal_error",
                "the acknowledgement could not be stored; send it again",
            )
        }
    }
}

/// Marks the device offline unless a newer connection has taken over.
async fn finish(state: &AppState, device: &Device, connection: u64) {
    if state.hub().unregister(device.id, connection) {
        set_presence(state, device, DeviceStatus::Offline).await;
    }
}

/// Stores the device's presence and tells the owner's other connected devices.
async fn set_presence(state: &AppState, device: &Device, status: DeviceStatus) -> Option<Device> {
    let updated = match state
        .db()
        .set_device_presence(device.id, status, now())
        .await
    {
        Ok(updated) => updated,
        Err(err) => {
            tracing::warn!(device_id = %device.id, error = %err, "could not store presence");
            None
        }
    };
    if let Some(updated) = &updated {
        crate::webhooks::presence_changed(state, updated);
    }
    let presence = ServerMessage::Presence {
        device_id: device.id,
        status,
    };
    crate::fanout::to_camera_audience(
        state,
        device.user_id,
        device.id,
        device.is_camera,
        &presence,
    )
    .await;
    updated
}
