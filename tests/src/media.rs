//! Live-view set-ups for the media tests: an owner with a camera and viewer devices, a stream
//! session opened through the API, the camera told to publish over its WebSocket, and media
//! tokens signed with the deployment's key for the cases signal would never issue.

use std::time::Duration;

use reqwest::StatusCode;
use securecam_media_relay::client::{self, Peer, PublishOptions};
use securecam_media_relay::token::{self, Direction, MediaClaims};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{expect_json, ws_next_of_type, ws_send, TestApp, TestDevice, TestUser, WsClient};

/// A camera asked to publish, and what it was told.
pub struct Camera {
    pub device: TestDevice,
    pub ws: WsClient,
    pub publish_endpoint: String,
    pub publish_token: String,
}

pub struct Household {
    pub owner: TestUser,
    pub camera: Camera,
    /// The first viewer's device and its session (the one that woke the camera).
    pub phone: TestDevice,
    pub phone_ws: WsClient,
    pub session: Value,
    pub stream: String,
}

/// Opens a live-view session of `camera` for `requester` with `token`.
pub async fn open_session(app: &TestApp, token: &str, camera: &str, requester: &str) -> Value {
    expect_json(
        app.post(
            "/api/v1/stream-sessions",
            Some(token),
            &json!({"camera_device_id": camera, "requester_device_id": requester, "reason": "live_view"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

pub async fn session_status(app: &TestApp, token: &str, id: &Value) -> Value {
    expect_json(
        app.get(
            &format!("/api/v1/stream-sessions/{}", id.as_str().unwrap()),
            Some(token),
        )
        .await,
        StatusCode::OK,
    )
    .await
}

/// An owner, a camera and a phone; the phone opens a session and the camera acknowledges
/// `start_stream` (it has not published yet).
pub async fn household(app: &TestApp, email: &str) -> Household {
    let owner = app.sign_up(email).await;
    let device = app.create_device(&owner.token, "Porch", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let mut ws = app.connect_device(&device.token).await;
    let phone_ws = app.connect_device(&phone.token).await;
    let session = open_session(app, &owner.token, &device.id, &phone.id).await;
    let start = ws_next_of_type(&mut ws, "command").await["command"].clone();
    assert_eq!(start["command_type"], "start_stream");
    ws_send(
        &mut ws,
        &json!({"type": "command.ack", "command_id": start["id"], "status": "acknowledged"})
            .to_string(),
    )
    .await;
    let stream = session["media_session_id"].as_str().unwrap().to_string();
    Household {
        owner,
        camera: Camera {
            device,
            ws,
            publish_endpoint: start["payload"]["publish_endpoint"]
                .as_str()
                .unwrap()
                .into(),
            publish_token: start["payload"]["publish_token"].as_str().unwrap().into(),
        },
        phone,
        phone_ws,
        session,
        stream,
    }
}

impl Household {
    /// The camera publishes synthetic H.264 + Opus over WHIP.
    pub async fn publish(&self, app: &TestApp) -> Peer {
        client::publish(
            &app.client,
            &self.camera.publish_endpoint,
            &self.camera.publish_token,
            PublishOptions::default(),
        )
        .await
        .expect("WHIP publish")
    }

    /// The phone watches over WHEP with its session's token.
    pub async fn watch(&self, app: &TestApp) -> Peer {
        client::watch(
            &app.client,
            self.session["subscribe_endpoint"].as_str().unwrap(),
            self.session["subscribe_token"].as_str().unwrap(),
            false,
        )
        .await
        .expect("WHEP watch")
    }
}

/// Waits for the requester's `stream.updated` with `status`.
pub async fn wait_for_status(ws: &mut WsClient, status: &str) -> Value {
    for _ in 0..10 {
        let update = ws_next_of_type(ws, "stream.updated").await;
        if update["stream_session"]["status"] == status {
            return update["stream_session"].clone();
        }
    }
    panic!("no stream.updated with status {status}");
}

/// A media token signed with the deployment's key, for any device, stream and direction.
pub fn media_token(app: &TestApp, device: Uuid, stream: &str, dir: Direction) -> String {
    let keys = securecam::keys::load_or_create(&app.settings.data_dir).expect("keys");
    let now = chrono::Utc::now().timestamp();
    token::sign(
        &keys.media_signing,
        &MediaClaims {
            sub: device,
            stream: stream.to_string(),
            dir,
            sid: Uuid::now_v7(),
            iat: now,
            exp: now + 60,
        },
    )
}

/// Media flows within this time or the test fails.
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(10);

/// A playback token for `recording` and `user`, signed with the deployment's key as if issued
/// `age` from now (a negative age past 15 minutes makes an expired one).
pub fn playback_token(app: &TestApp, recording: Uuid, user: Uuid, age: chrono::Duration) -> String {
    let keys = securecam::keys::load_or_create(&app.settings.data_dir).expect("keys");
    let key = securecam_signal::playback::PlaybackKey::derive(&keys.media_signing);
    let viewer = securecam_storage::EventViewer {
        user_id: user,
        device_id: None,
    };
    key.sign(recording, viewer, chrono::Utc::now() + age)
}
