//! Who hears about a camera: its owner's other devices and the devices linked to it. Every
//! message about a camera (presence, events) goes out through here, so the rule "nothing
//! reaches another owner's device unless a live link allows it" lives in one place.

use uuid::Uuid;

use crate::bus::BusMessage;
use crate::state::AppState;
use crate::ws::protocol::ServerMessage;

/// Sends `message` to every connected device of `owner` but `camera`, and — when `camera` is
/// a camera — to the connected devices with an active link to it.
pub async fn to_camera_audience(
    state: &AppState,
    owner: Uuid,
    camera: Uuid,
    is_camera: bool,
    message: &ServerMessage,
) {
    let hub = state.hub();
    let frame = message.to_json();
    hub.send_frame_to_owner(owner, &frame, Some(camera));
    let clients = if is_camera {
        match state.db().linked_clients(camera).await {
            Ok(clients) => clients,
            Err(err) => {
                tracing::warn!(camera_id = %camera, error = %err, "could not list linked devices");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    for &client in &clients {
        // The owner's own linked devices were told above.
        hub.send_frame_unless_owned_by(client, owner, frame.clone());
    }
    // The same for the devices connected to other nodes.
    state.bus().publish(BusMessage::Audience {
        owner,
        camera,
        clients,
        frame,
    });
}
