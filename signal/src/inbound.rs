//! What other nodes publish on the bus, applied here (see `crate::bus` for the transport and
//! `crate::types::bus` for the messages). A signal node applies everything; a recorder or a
//! relay alone in its process only what is meant for it.

use std::future::Future;
use std::sync::Arc;

use securecam_media_relay::driver::RelayHandle;
use securecam_recorder::service::RecorderHandle;
use securecam_storage::CommandViewer;
use uuid::Uuid;

use crate::bus::Bus;
use crate::state::AppState;
use crate::types::bus::BusMessage;
use crate::types::protocol::ServerMessage;
use crate::ws::hub::close;

/// Applies what other nodes publish to this signal node until `shutdown` resolves.
pub async fn listen(state: AppState, shutdown: impl Future<Output = ()>) {
    let bus = state.outbox().bus().clone();
    bus.receive(shutdown, |message| apply(&state, message))
        .await;
}

/// A recorder without signal in its process: what it must record.
pub async fn listen_as_recorder(
    bus: Arc<Bus>,
    recorder: RecorderHandle,
    shutdown: impl Future<Output = ()>,
) {
    bus.receive(shutdown, |message| {
        if let BusMessage::Recorder(input) = message {
            recorder.send(input);
        }
        std::future::ready(())
    })
    .await;
}

/// A relay without signal in its process: the sessions that ended, whose viewer legs go.
pub async fn listen_as_relay(bus: &Bus, relay: RelayHandle, shutdown: impl Future<Output = ()>) {
    bus.receive(shutdown, |message| {
        if let BusMessage::MediaSessionEnded { session } = message {
            relay.end_session(session);
        }
        std::future::ready(())
    })
    .await;
}

async fn apply(state: &AppState, message: BusMessage) {
    let hub = state.hub();
    match message {
        BusMessage::Audience {
            owner,
            camera,
            clients,
            frame,
        } => hub.send_frame_to_audience(owner, camera, &clients, &frame),
        BusMessage::ToDevice { device, frame } => {
            hub.send_frame(device, frame);
        }
        BusMessage::CommandsPending { device } => {
            hub.nudge(device);
        }
        BusMessage::CommandUpdated { device, command } => {
            if !hub.is_online(device) {
                return;
            }
            let viewer = CommandViewer::Device {
                id: device,
                owner: Uuid::nil(),
            };
            match state.db().get_command(viewer, command).await {
                Ok(Some(command)) => {
                    hub.send(device, &ServerMessage::CommandUpdated { command });
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "could not read an updated command"),
            }
        }
        BusMessage::Connected { device } => {
            hub.evict(device);
        }
        BusMessage::Revoked(revocation) => state.forget_locally(revocation),
        BusMessage::DeviceRemoved { device } => {
            hub.close_device(device, close::DEVICE_REMOVED, "device deleted");
        }
        BusMessage::Relay(event) => crate::reactions::relay::on_event(state, event).await,
        BusMessage::MediaSessionEnded { session } => {
            if let Some(relay) = &state.media().relay {
                relay.end_session(session);
            }
        }
        BusMessage::Recorder(input) => {
            if let Some(recorder) = &state.media().recorder {
                recorder.send(input);
            }
        }
    }
}
