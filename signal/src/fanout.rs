//! Who hears about a camera: its owner's other devices and the devices linked to it. Every
//! message about a camera (presence, events) goes out through here, so the rule "nothing
//! reaches another owner's device unless a live link allows it" lives in one place.

use uuid::Uuid;

use crate::state::Core;
use crate::types::protocol::ServerMessage;

/// Sends `message` to every connected device of `owner` but `camera`, and — when `camera` is
/// a camera — to the connected devices with an active link to it.
pub async fn to_camera_audience(
    core: &Core,
    owner: Uuid,
    camera: Uuid,
    is_camera: bool,
    message: &ServerMessage,
) {
    let clients = if is_camera {
        match core.db().linked_clients(camera).await {
            Ok(clients) => clients,
            Err(err) => {
                tracing::warn!(camera_id = %camera, error = %err, "could not list linked devices");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    core.outbox().to_audience(owner, camera, clients, message);
}
