//! What one signal node tells the others (see `crate::bus` for how it travels).

use securecam_media_relay::core::RelayEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A credential that stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Revocation {
    Session { id: Uuid },
    UserSessions { user: Uuid },
    Device { id: Uuid },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BusMessage {
    /// A frame for the owner's devices but `camera`, and for `clients` not owned by `owner`.
    Audience {
        owner: Uuid,
        camera: Uuid,
        clients: Vec<Uuid>,
        frame: String,
    },
    /// A frame for one device.
    ToDevice {
        device: Uuid,
        frame: String,
    },
    /// Commands wait for this device.
    CommandsPending {
        device: Uuid,
    },
    /// A command `device` sent changed; the node holding `device` reads and forwards it.
    CommandUpdated {
        device: Uuid,
        command: Uuid,
    },
    /// The device connected to the publishing node; any older connection elsewhere goes.
    Connected {
        device: Uuid,
    },
    Revoked(Revocation),
    /// The device was deleted: close its connection.
    DeviceRemoved {
        device: Uuid,
    },
    /// What a relay in a process without signal saw (every signal node applies it; the
    /// database changes are conditional, so only one node's change takes and is announced).
    Relay(RelayEvent),
    /// A stream session ended: a relay that carries its viewer leg cuts it.
    MediaSessionEnded {
        session: Uuid,
    },
    /// For the recorder, when it runs in a process of its own.
    Recorder(securecam_recorder::service::RecorderInput),
}

/// A message as it travels: with the node that sent it, so a node skips its own.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub node: Uuid,
    #[serde(flatten)]
    pub message: BusMessage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_the_node() {
        let message = BusMessage::Revoked(Revocation::Session { id: Uuid::nil() });
        let json = serde_json::to_string(&Envelope {
            node: Uuid::nil(),
            message: message.clone(),
        })
        .unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back.message, message);
        assert_eq!(back.node, Uuid::nil());
    }
}
