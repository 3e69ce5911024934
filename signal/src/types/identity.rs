//! Who is acting: a caller of the API (user or device token), and who sends a command.

use securecam_storage::{CommandViewer, Device, EventViewer, Session};
use uuid::Uuid;

/// Whoever presented a valid bearer token.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A signed-in user (user token).
    User { session: Session },
    /// A device acting for itself and its owner's rights over it (device token).
    Device { device: Device },
}

impl Caller {
    /// The user whose rows this caller may see.
    pub fn owner_id(&self) -> Uuid {
        match self {
            Caller::User { session } => session.user_id,
            Caller::Device { device } => device.user_id,
        }
    }

    pub fn device_id(&self) -> Option<Uuid> {
        match self {
            Caller::User { .. } => None,
            Caller::Device { device } => Some(device.id),
        }
    }

    /// Who looks at events and clips: the user, or the device (which sees through its own
    /// links only).
    pub fn event_viewer(&self) -> EventViewer {
        EventViewer {
            user_id: self.owner_id(),
            device_id: self.device_id(),
        }
    }

    /// Who looks at commands.
    pub fn command_viewer(&self) -> CommandViewer {
        match self {
            Caller::User { session } => CommandViewer::User(session.user_id),
            Caller::Device { device } => CommandViewer::Device {
                id: device.id,
                owner: device.user_id,
            },
        }
    }
}

/// A caller that must be a signed-in user: a device token gets 403.
#[derive(Debug, Clone)]
pub struct UserCaller {
    pub session: Session,
}

impl UserCaller {
    pub fn user_id(&self) -> Uuid {
        self.session.user_id
    }
}

/// Who sends a command: the user, and the device when a device token or `source_device_id`
/// says so.
#[derive(Debug, Clone)]
pub struct Sender {
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub ip: Option<String>,
}
