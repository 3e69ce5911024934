//! Who is connected: one entry per online device, each with a bounded outbound queue and a
//! way to close it. Delivery never blocks and never grows memory: a connection whose queue is
//! full is closed (it is too slow to keep up) and the message is not queued.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch, Notify};
use uuid::Uuid;

use crate::types::protocol::ServerMessage;

/// Close codes the hub asks a connection to close with.
pub mod close {
    /// A newer connection of the same device replaced this one.
    pub const REPLACED: u16 = 4001;
    /// Policy: too many frames, or a consumer too slow for its queue.
    pub const POLICY: u16 = 1008;
    /// Frame over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// The device was deleted: its token no longer works.
    pub const DEVICE_REMOVED: u16 = 4003;
}

/// A request to close, with its code and reason.
pub type CloseRequest = Option<(u16, &'static str)>;

struct Entry {
    connection: u64,
    owner_id: Uuid,
    outbound: mpsc::Sender<String>,
    close: watch::Sender<CloseRequest>,
    /// Wakes the connection to fetch its commands from the database; repeated nudges before
    /// it looks coalesce into one.
    wake: Arc<Notify>,
}

impl Entry {
    fn close(&self, code: u16, reason: &'static str) {
        let _ = self.close.send(Some((code, reason)));
    }

    /// Queues a frame; a full queue closes the connection instead.
    fn deliver(&self, frame: String) -> bool {
        match self.outbound.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(close::POLICY, "send queue full");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// What a new connection gets from [`Hub::register`].
pub struct Registration {
    pub connection: u64,
    pub outbound: mpsc::Receiver<String>,
    pub close: watch::Receiver<CloseRequest>,
    pub wake: Arc<Notify>,
}

pub struct Hub {
    queue_capacity: usize,
    next_connection: AtomicU64,
    devices: Mutex<HashMap<Uuid, Entry>>,
}

impl Hub {
    pub fn new(queue_capacity: usize) -> Self {
        Hub {
            queue_capacity,
            next_connection: AtomicU64::new(1),
            devices: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a device's new connection; an older one of the same device is closed with
    /// 4001.
    pub fn register(&self, device_id: Uuid, owner_id: Uuid) -> Registration {
        let (outbound_tx, outbound) = mpsc::channel(self.queue_capacity);
        let (close_tx, close) = watch::channel(None);
        let connection = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        let entry = Entry {
            connection,
            owner_id,
            outbound: outbound_tx,
            close: close_tx,
            wake: wake.clone(),
        };
        let replaced = self.lock().insert(device_id, entry);
        if let Some(old) = replaced {
            old.close(close::REPLACED, "replaced by a newer connection");
        }
        Registration {
            connection,
            outbound,
            close,
            wake,
        }
    }

    /// Removes the device's entry if it still belongs to `connection`; true when it did,
    /// i.e. the device is now offline (a replaced connection leaves it online).
    pub fn unregister(&self, device_id: Uuid, connection: u64) -> bool {
        let mut devices = self.lock();
        if devices
            .get(&device_id)
            .is_some_and(|e| e.connection == connection)
        {
            devices.remove(&device_id);
            true
        } else {
            false
        }
    }

    pub fn is_online(&self, device_id: Uuid) -> bool {
        self.lock().contains_key(&device_id)
    }

    /// Tells the device's connection, if it is here, that commands wait for it.
    pub fn nudge(&self, device_id: Uuid) -> bool {
        self.lock()
            .get(&device_id)
            .map(|e| e.wake.notify_one())
            .is_some()
    }

    pub fn online_count(&self) -> usize {
        self.lock().len()
    }

    /// Sends to one device if it is connected here.
    pub fn send(&self, device_id: Uuid, message: &ServerMessage) -> bool {
        self.send_frame(device_id, message.to_json())
    }

    pub fn send_frame(&self, device_id: Uuid, frame: String) -> bool {
        self.lock()
            .get(&device_id)
            .is_some_and(|e| e.deliver(frame))
    }

    /// Sends to a device unless it belongs to `owner_id` (who was told already).
    pub fn send_unless_owned_by(
        &self,
        device_id: Uuid,
        owner_id: Uuid,
        message: &ServerMessage,
    ) -> bool {
        self.send_frame_unless_owned_by(device_id, owner_id, message.to_json())
    }

    pub fn send_frame_unless_owned_by(
        &self,
        device_id: Uuid,
        owner_id: Uuid,
        frame: String,
    ) -> bool {
        self.lock()
            .get(&device_id)
            .is_some_and(|e| e.owner_id != owner_id && e.deliver(frame))
    }

    /// Sends to every connected device of `owner_id` except `except`.
    pub fn send_to_owner(
        &self,
        owner_id: Uuid,
        message: &ServerMessage,
        except: Option<Uuid>,
    ) -> usize {
        self.send_frame_to_owner(owner_id, &message.to_json(), except)
    }

    /// A camera's audience connected here: `owner`'s devices but `camera`, and those of
    /// `clients` (the devices linked to the camera) that `owner` does not own (told already).
    pub fn send_frame_to_audience(&self, owner: Uuid, camera: Uuid, clients: &[Uuid], frame: &str) {
        self.send_frame_to_owner(owner, frame, Some(camera));
        for &client in clients {
            self.send_frame_unless_owned_by(client, owner, frame.to_string());
        }
    }

    pub fn send_frame_to_owner(&self, owner_id: Uuid, frame: &str, except: Option<Uuid>) -> usize {
        self.lock()
            .iter()
            .filter(|(id, e)| e.owner_id == owner_id && Some(**id) != except)
            .filter(|(_, e)| e.deliver(frame.to_string()))
            .count()
    }

    /// The device connected elsewhere (another node): closes its connection here with 4001
    /// and forgets it at once, so that closing it does not mark the device offline.
    pub fn evict(&self, device_id: Uuid) -> bool {
        match self.lock().remove(&device_id) {
            Some(entry) => {
                entry.close(close::REPLACED, "replaced by a newer connection");
                true
            }
            None => false,
        }
    }

    /// Closes the device's connection here, if any (the device was deleted).
    pub fn close_device(&self, device_id: Uuid, code: u16, reason: &'static str) {
        if let Some(entry) = self.lock().get(&device_id) {
            entry.close(code, reason);
        }
    }

    /// Closes every connection (server shutdown).
    pub fn close_all(&self, code: u16, reason: &'static str) {
        for entry in self.lock().values() {
            entry.close(code, reason);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry>> {
        self.devices.lock().expect("hub lock")
    }
}

#[cfg(test)]
mod tests {
    use securecam_storage::DeviceStatus;

    use super::*;

    fn presence() -> ServerMessage {
        ServerMessage::Presence {
            device_id: Uuid::nil(),
            status: DeviceStatus::Online,
        }
    }

    #[test]
    fn a_newer_connection_replaces_the_older() {
        let hub = Hub::new(4);
        let device = Uuid::now_v7();
        let owner = Uuid::now_v7();
        let first = hub.register(device, owner);
        let second = hub.register(device, owner);
        assert_eq!(
            *first.close.borrow(),
            Some((close::REPLACED, "replaced by a newer connection"))
        );
        assert_eq!(*second.close.borrow(), None);
        assert!(
            !hub.unregister(device, first.connection),
            "the old one leaves the device online"
        );
        assert!(hub.is_online(device));
        assert!(hub.unregister(device, second.connection));
        assert!(!hub.is_online(device));
    }

    #[test]
    fn owners_only_and_slow_consumers_are_closed() {
        let hub = Hub::new(2);
        let owner = Uuid::now_v7();
        let (a, b, stranger) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut ra = hub.register(a, owner);
        let rb = hub.register(b, owner);
        let mut rs = hub.register(stranger, Uuid::now_v7());
        assert_eq!(hub.send_to_owner(owner, &presence(), Some(a)), 1);
        assert!(
            ra.outbound.try_recv().is_err(),
            "the excepted device got nothing"
        );
        assert!(
            rs.outbound.try_recv().is_err(),
            "another owner's device got nothing"
        );
        // b never reads: its queue of 2 fills, the third message closes it.
        assert!(hub.send(b, &presence()));
        assert!(!hub.send(b, &presence()));
        assert_eq!(rb.close.borrow().map(|(code, _)| code), Some(close::POLICY));
    }
}
