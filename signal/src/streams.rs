//! Stream sessions, signal side: opening one tells the camera to publish (a `start_stream`
//! command with its WHIP endpoint and a publish token) unless it already does for another
//! session; the camera's answer moves sessions on; a session the camera never starts fails
//! after the publish timeout; a camera nobody needs any more is told to stop.

use chrono::Duration;
use securecam_media_relay::token::Direction;
use securecam_storage::{
    now, Command, CommandStatus, NewAuditLog, NewStreamSession, StorageError, StreamOutcome,
    StreamReason, StreamSession, StreamStatus,
};
use serde_json::json;
use uuid::Uuid;

use crate::commands::store::{send_from_server, DEFAULT_TTL_SECONDS};
use crate::media::stream_name;
use crate::recording::feed;
use crate::state::Core;
use crate::types::identity::{Caller, Sender};
use crate::types::protocol::ServerMessage;
use crate::types::views::OpenedStream;

/// The provider named in `media_provider`.
pub const MEDIA_PROVIDER: &str = "securecam-relay";

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("with a device token the requester is the calling device")]
    InvalidRequester,
    #[error("no media relay is running")]
    RelayUnavailable,
    #[error("camera not found")]
    CameraNotFound,
    #[error("camera_device_id is not a camera")]
    NotACamera,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Opens a session of `camera` for `requester` (the caller's device). `link_base` is where the
/// request came in (see `types::links`): the endpoints of a relay in this process are under it.
pub async fn open(
    core: &Core,
    caller: &Caller,
    camera: Uuid,
    requester: Uuid,
    reason: StreamReason,
    ip: Option<String>,
    link_base: Option<&str>,
) -> Result<OpenedStream, StreamError> {
    if caller.device_id().is_some_and(|d| d != requester) {
        return Err(StreamError::InvalidRequester);
    }
    let audit = NewAuditLog::new("stream.start")
        .actor_device(Some(requester))
        .ip(ip.clone())
        .metadata(json!({"reason": reason}));
    let sender = Sender {
        user_id: caller.owner_id(),
        device_id: Some(requester),
        ip,
    };
    let session = open_session(
        core,
        caller.owner_id(),
        camera,
        Some(requester),
        reason,
        sender,
        audit,
        link_base,
    )
    .await?;
    // A session for a recording by hand is recorded until it ends.
    feed::session_opened(core, &session).await;
    let at = now();
    let stream = session
        .media_session_id
        .clone()
        .unwrap_or_else(|| stream_name(camera));
    let (ice_servers, _) = core.media().ice_servers(caller.owner_id(), at);
    let subscribe_token =
        core.media()
            .token(requester, &stream, Direction::Subscribe, session.id, at);
    Ok(OpenedStream {
        session,
        subscribe_token,
        ice_servers,
    })
}

/// Opens a session of `camera` for `user`'s device `requester`, or for the recorder (no
/// requester: the camera must be `user`'s), on the relay that carries the camera or the least
/// loaded one; tells the camera to publish unless it already does. The endpoints of a relay in
/// this process are under `link_base` when there is one (the request's), else under the
/// relay's registered URL.
#[allow(clippy::too_many_arguments)]
pub async fn open_session(
    core: &Core,
    user: Uuid,
    camera: Uuid,
    requester: Option<Uuid>,
    reason: StreamReason,
    sender: Sender,
    audit: NewAuditLog,
    link_base: Option<&str>,
) -> Result<StreamSession, StreamError> {
    let at = now();
    // The relay that carries the camera's stream now, else the least loaded one. Should the
    // camera publish already, the storage keeps the session on its relay whatever is picked.
    let relay = core
        .db()
        .pick_relay(camera, at - core.config().relay_stale())
        .await?
        .ok_or(StreamError::RelayUnavailable)?;
    let base = match (link_base, &core.media().local_relay) {
        (Some(base), Some((local, _))) if *local == relay.id => base,
        _ => relay.public_url.as_str(),
    }
    .trim_end_matches('/')
    .to_string();
    let stream = stream_name(camera);
    let publish_endpoint = format!("{base}/media/whip/{stream}");
    let new = NewStreamSession {
        user_id: user,
        camera_device_id: camera,
        requester_device_id: requester,
        reason,
        media_provider: MEDIA_PROVIDER.to_string(),
        media_session_id: stream.clone(),
        publish_endpoint: publish_endpoint.clone(),
        subscribe_endpoint: format!("{base}/media/whep/{stream}"),
        relay_node_id: Some(relay.id),
    };
    let (session, start_camera) = match core.db().create_stream_session(new, at, audit).await? {
        StreamOutcome::Created {
            session,
            start_camera,
        } => (*session, start_camera),
        StreamOutcome::NotFound => return Err(StreamError::CameraNotFound),
        StreamOutcome::NotACamera => return Err(StreamError::NotACamera),
    };
    if start_camera {
        let (camera_ice, _) = core.media().ice_servers(session.owner_user_id, at);
        let payload = json!({
            "stream_session_id": session.id,
            // A camera told to start has no other open session: the relay picked is its.
            "publish_endpoint": publish_endpoint,
            "publish_token": core.media().token(camera, &stream, Direction::Publish, session.id, at),
            "ice_servers": camera_ice,
        });
        let timeout = core.config().stream_publish_timeout_secs;
        if let Err(err) =
            send_from_server(core, sender, camera, "start_stream", payload, timeout).await
        {
            // The session fails by the publish timeout; nothing else to undo.
            tracing::warn!(session_id = %session.id, error = %err, "could not send start_stream");
        }
    }
    Ok(session)
}

/// Tells the requester of each session what became of it; the relays (the one in this
/// process, and through the bus those of other processes) drop the viewer legs of sessions
/// that closed.
pub fn announce(core: &Core, sessions: &[StreamSession]) {
    for session in sessions {
        if matches!(session.status, StreamStatus::Ended | StreamStatus::Failed) {
            feed::session_ended(core, session);
            core.outbox().session_ended(session.id);
        }
        if let Some(requester) = session.requester_device_id {
            core.outbox().to_device(
                requester,
                &ServerMessage::StreamUpdated {
                    stream_session: session.clone(),
                },
            );
        }
    }
}

/// The camera answered a command: `start_stream` acknowledged moves its sessions to
/// `starting`, failed fails them.
pub async fn on_command_answer(core: &Core, command: &Command) {
    if command.command_type != "start_stream" {
        return;
    }
    let camera = command.target_device_id;
    let at = now();
    let changed = match command.status {
        CommandStatus::Acknowledged => core.db().camera_starting(camera, at).await,
        CommandStatus::Failed => {
            core.db()
                .camera_failed_to_start(camera, "camera_refused", at)
                .await
        }
        _ => return,
    };
    match changed {
        Ok(sessions) => announce(core, &sessions),
        Err(err) => {
            tracing::warn!(camera_id = %camera, error = %err, "could not update stream sessions")
        }
    }
}

/// Ends the open sessions whose requester may no longer watch their camera (a revoked link,
/// a deleted device) and tells those requesters. Called at once by the change that caused
/// it, and by every sweep in case that call failed or ran on a node that then died.
pub async fn end_unwatchable(core: &Core, reason: &str) {
    match core.db().end_unwatchable_sessions(reason, now()).await {
        Ok(ended) => announce(core, &ended),
        Err(err) => tracing::warn!(error = %err, "could not end unwatchable stream sessions"),
    }
}

/// One round of the stream sweeper: sessions nobody may watch any more end; sessions the
/// camera never started fail; sessions on a relay that stopped heartbeating end; cameras
/// nobody needs any more are told to stop.
pub async fn sweep_once(core: &Core) {
    end_unwatchable(core, "access_revoked").await;
    let at = now();
    let config = core.config();
    let timeout = Duration::seconds(config.stream_publish_timeout_secs as i64);
    match core.db().fail_unpublished_sessions(at - timeout, at).await {
        Ok(failed) => announce(core, &failed),
        Err(err) => tracing::warn!(error = %err, "stream timeout sweep failed"),
    }
    match core
        .db()
        .end_sessions_on_lost_relays(at - config.relay_stale(), at)
        .await
    {
        Ok(ended) => announce(core, &ended),
        Err(err) => tracing::warn!(error = %err, "lost relay sweep failed"),
    }
    let idle = Duration::seconds(config.stream_idle_stop_secs as i64);
    let cameras = match core.db().release_idle_cameras(at - idle, at).await {
        Ok(cameras) => cameras,
        Err(err) => {
            tracing::warn!(error = %err, "idle camera sweep failed");
            return;
        }
    };
    for camera in cameras {
        let sender = Sender {
            user_id: camera.owner_user_id,
            device_id: None,
            ip: None,
        };
        let payload = json!({"stream_session_id": camera.stream_session_id});
        if let Err(err) = send_from_server(
            core,
            sender,
            camera.camera_device_id,
            "stop_stream",
            payload,
            DEFAULT_TTL_SECONDS,
        )
        .await
        {
            tracing::warn!(camera_id = %camera.camera_device_id, error = %err, "could not send stop_stream");
        }
    }
}
