//! The driver of one device's WebSocket: reads frames, writes the hub's queue, sends
//! heartbeats, and keeps the device's presence true. All decisions that need no socket
//! (parsing, flood control, registration) live elsewhere; this only moves bytes and time.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use securecam_storage::{now, Device, DeviceStatus};

use super::flood::FloodGuard;
use super::hub::close;
use super::protocol::{self, ClientMessage, ServerMessage};
use crate::state::AppState;

/// Frames over this many bytes close the connection with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Burst and sustained frames per second a device may send before 1008.
const FLOOD_BURST: u32 = 100;
const FLOOD_PER_SECOND: u32 = 50;

pub async fn run(socket: WebSocket, state: AppState, device: Device) {
    let hub = state.hub();
    let mut registration = hub.register(device.id, device.user_id);
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

    let mut flood = FloodGuard::new(FLOOD_BURST, FLOOD_PER_SECOND, Instant::now());
    let mut last_heard = Instant::now();
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.tick().await;
    let close_with = loop {
        tokio::select! {
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
                        let reply = handle(body.as_str());
                        if sink.send(text(reply.to_json())).await.is_err() {
                            break None;
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

fn handle(body: &str) -> ServerMessage {
    match protocol::parse(body) {
        Ok(ClientMessage::Ping { reference }) => ServerMessage::Pong { reference },
        Err(bad) => bad.into_message(),
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
    let presence = ServerMessage::Presence {
        device_id: device.id,
        status,
    };
    let hub = state.hub();
    hub.send_to_owner(device.user_id, &presence, Some(device.id));
    // Linked viewers of a camera (possibly another person's devices) hear of it too.
    if device.is_camera {
        match state.db().linked_clients(device.id).await {
            Ok(clients) => {
                for client in clients {
                    hub.send_unless_owned_by(client, device.user_id, &presence);
                }
            }
            Err(err) => {
                tracing::warn!(device_id = %device.id, error = %err, "could not list linked viewers")
            }
        }
    }
    updated
}
