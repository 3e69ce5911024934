//! Webhook jobs that signal queues itself: presence changes. Events and clips queue theirs
//! in the transaction that stores them (see storage).

use securecam_storage::{now, Device, DeviceStatus, WebhookEventType};

use crate::state::Core;

/// Queues `device.online` / `device.offline` for the owner's endpoints, off the connection's
/// path: presence is best effort, and a reconnect storm must not wait on it.
pub fn presence_changed(core: &Core, device: &Device) {
    let event_type = match device.status {
        DeviceStatus::Online => WebhookEventType::DeviceOnline,
        DeviceStatus::Offline => WebhookEventType::DeviceOffline,
    };
    let db = core.db_arc();
    let device = device.clone();
    tokio::spawn(async move {
        let data = serde_json::to_value(&device).expect("devices serialise");
        if let Err(err) = db
            .enqueue_webhook_event(device.user_id, event_type, data, now())
            .await
        {
            tracing::warn!(device_id = %device.id, error = %err, "could not queue the presence webhook");
        }
    });
}
