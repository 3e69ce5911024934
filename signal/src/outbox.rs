//! Delivery to devices, relays and the recorder, owned in one place: a message goes to the
//! connection in this process when the device is here, and over the bus to the node that
//! holds it otherwise; a relay or recorder in this process is told directly, one in another
//! process through the bus. Services say what happened; only this module knows where it goes.

use std::sync::Arc;

use securecam_media_relay::driver::RelayHandle;
use securecam_recorder::service::{RecorderHandle, RecorderInput};
use securecam_storage::Command;
use uuid::Uuid;

use crate::bus::Bus;
use crate::types::bus::{BusMessage, Revocation};
use crate::types::protocol::ServerMessage;
use crate::ws::hub::{close, Hub};

/// Where the recorder is.
#[derive(Clone)]
pub enum RecorderRoute {
    /// In this process.
    Local(RecorderHandle),
    /// In another process, reached over the bus.
    Remote,
}

pub struct Outbox {
    /// The devices connected to this process; none where no signal serves them (a recorder
    /// alone in its process).
    hub: Option<Arc<Hub>>,
    bus: Arc<Bus>,
    relay: Option<RelayHandle>,
    recorder: Option<RecorderRoute>,
}

impl Outbox {
    /// `remote_recorder`: a recorder runs in another process (heard only over a bus).
    pub fn new(
        hub: Option<Arc<Hub>>,
        bus: Arc<Bus>,
        relay: Option<RelayHandle>,
        recorder: Option<RecorderHandle>,
        remote_recorder: bool,
    ) -> Self {
        let recorder = match recorder {
            Some(handle) => Some(RecorderRoute::Local(handle)),
            None if remote_recorder && bus.is_multi_node() => Some(RecorderRoute::Remote),
            None => None,
        };
        Outbox {
            hub,
            bus,
            relay,
            recorder,
        }
    }

    pub fn hub(&self) -> Option<&Arc<Hub>> {
        self.hub.as_ref()
    }

    pub fn bus(&self) -> &Arc<Bus> {
        &self.bus
    }

    /// Whether `device` is connected to this process.
    pub fn is_online_here(&self, device: Uuid) -> bool {
        self.hub.as_ref().is_some_and(|hub| hub.is_online(device))
    }

    /// Sends to one device wherever it is connected.
    pub fn to_device(&self, device: Uuid, message: &ServerMessage) {
        let frame = message.to_json();
        let here = self
            .hub
            .as_ref()
            .is_some_and(|hub| hub.send_frame(device, frame.clone()));
        if !here {
            self.bus.publish(BusMessage::ToDevice { device, frame });
        }
    }

    /// Sends `message` to every connected device of `owner` but `camera`, and to `clients`
    /// (the devices linked to the camera) that `owner` does not own, on every node.
    pub fn to_audience(
        &self,
        owner: Uuid,
        camera: Uuid,
        clients: Vec<Uuid>,
        message: &ServerMessage,
    ) {
        let frame = message.to_json();
        if let Some(hub) = &self.hub {
            hub.send_frame_to_audience(owner, camera, &clients, &frame);
        }
        self.bus.publish(BusMessage::Audience {
            owner,
            camera,
            clients,
            frame,
        });
    }

    /// Tells whichever connection holds `device`, on any node, that commands wait for it.
    pub fn commands_pending(&self, device: Uuid) {
        if !self.hub.as_ref().is_some_and(|hub| hub.nudge(device)) {
            self.bus.publish(BusMessage::CommandsPending { device });
        }
    }

    /// Wakes the connection in this process whose commands are due for another try (only
    /// the node holding a connection can deliver to it).
    pub fn retry_here(&self, device: Uuid) {
        if let Some(hub) = &self.hub {
            hub.nudge(device);
        }
    }

    /// Tells the device that sent a command (if a device did) what became of it.
    pub fn command_updated(&self, command: &Command) {
        let Some(source) = command.source_device_id else {
            return;
        };
        let message = ServerMessage::CommandUpdated {
            command: command.clone(),
        };
        if !self
            .hub
            .as_ref()
            .is_some_and(|hub| hub.send(source, &message))
        {
            // Perhaps connected to another node, which reads the command itself (it may be
            // too large for a bus message).
            self.bus.publish(BusMessage::CommandUpdated {
                device: source,
                command: command.id,
            });
        }
    }

    /// The device connected here: an older connection on another node goes.
    pub fn device_connected(&self, device: Uuid) {
        self.bus.publish(BusMessage::Connected { device });
    }

    /// A credential stopped working: the other nodes forget it too.
    pub fn revoked(&self, revocation: Revocation) {
        self.bus.publish(BusMessage::Revoked(revocation));
    }

    /// A device was deleted: its connection, wherever it is, closes.
    pub fn device_removed(&self, device: Uuid) {
        if let Some(hub) = &self.hub {
            hub.close_device(device, close::DEVICE_REMOVED, "device deleted");
        }
        self.bus.publish(BusMessage::DeviceRemoved { device });
    }

    /// A stream session ended: the relay that carries its viewer leg, here or elsewhere,
    /// cuts it.
    pub fn session_ended(&self, session: Uuid) {
        if let Some(relay) = &self.relay {
            relay.end_session(session);
        }
        self.bus.publish(BusMessage::MediaSessionEnded { session });
    }

    /// Where the recorder is; `None` when this deployment records nothing.
    pub fn recorder(&self) -> Option<&RecorderRoute> {
        self.recorder.as_ref()
    }

    /// Tells the recorder, wherever it is (nothing when there is none).
    pub fn to_recorder(&self, input: RecorderInput) {
        match &self.recorder {
            Some(RecorderRoute::Local(handle)) => handle.send(input),
            Some(RecorderRoute::Remote) => self.bus.publish(BusMessage::Recorder(input)),
            None => {}
        }
    }
}
