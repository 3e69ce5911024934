//! What a relay reports, in this process or over the bus, moves sessions on: a camera
//! publishing makes its sessions `live` (and the recorder watches it); a stream whose camera
//! did not come back ends them; a viewer that left the relay (DELETE, or its connection died)
//! ends its session.

use securecam_media_relay::core::RelayEvent;
use securecam_storage::now;

use crate::media::camera_of;
use crate::recording::feed;
use crate::state::Core;
use crate::streams;

pub async fn on_event(core: &Core, event: RelayEvent) {
    let at = now();
    let changed = match &event {
        RelayEvent::PublisherLive { device, stream, .. } => {
            feed::camera_live(core, *device, stream).await;
            core.db().camera_live(*device, at).await
        }
        RelayEvent::StreamClosed { stream } => match camera_of(stream) {
            Some(camera) => {
                feed::camera_gone(core, camera);
                core.db()
                    .end_camera_sessions(camera, "camera_disconnected", at)
                    .await
            }
            None => return,
        },
        RelayEvent::ViewerLeft { session, .. } => core
            .db()
            .close_stream_session(*session, "viewer_left", at)
            .await
            .map(|s| s.into_iter().collect()),
        RelayEvent::PublisherAway { .. } | RelayEvent::ViewerJoined { .. } => return,
    };
    match changed {
        Ok(sessions) => streams::announce(core, &sessions),
        Err(err) => tracing::warn!(?event, error = %err, "could not apply a relay event"),
    }
}
