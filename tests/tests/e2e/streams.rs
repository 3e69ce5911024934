//! Stream sessions, signal side, with real WebSocket clients: opening one sends the camera a
//! `start_stream` command with its WHIP endpoint and a scoped publish token (once per camera,
//! however many watch); the camera's answer and the publish timeout move sessions on and the
//! requester hears of it; ending the last session tells the camera to stop after the idle
//! period; revoking a link ends the linked client's views; other owners get 404.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use securecam_tests::media::{open_session, session_status};
use securecam_tests::{
    both_backends, expect_json, expect_problem, spawn_app, spawn_app_with, ws_expect_none_of_type,
    ws_next_of_type, ws_send, Backend,
};
use serde_json::{json, Value};

both_backends!(
    live_view_asks_the_camera_to_publish_once,
    sessions_fail_when_the_camera_does_not_publish,
    a_camera_that_refuses_fails_its_sessions,
    revoking_a_link_ends_the_clients_views,
    deleting_the_camera_ends_its_sessions,
    other_owners_and_bad_input,
);

/// The claims of a media token (a JWT); its signature is the relay's business.
fn claims(token: &Value) -> Value {
    let token = token.as_str().expect("a token");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS: {token}");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

async fn live_view_asks_the_camera_to_publish_once(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.signal.stream_idle_stop_secs = 1;
        s.turn.urls = Some("stun:stun.example.org:3478, turn:turn.example.org:3478".into());
        s.turn.secret = Some("coturn-secret".to_string().into());
    })
    .await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Porch", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let tablet = app.create_device(&owner.token, "Tablet", "viewer").await;
    let mut camera_ws = app.connect_device(&camera.token).await;
    let mut phone_ws = app.connect_device(&phone.token).await;

    let first = open_session(&app, &owner.token, &camera.id, &phone.id).await;
    assert_eq!(first["status"], "requested");
    assert_eq!(first["reason"], "live_view");
    assert_eq!(first["owner_user_id"], owner.id.as_str());
    assert_eq!(first["camera_device_id"], camera.id.as_str());
    assert_eq!(first["requester_device_id"], phone.id.as_str());
    assert_eq!(first["media_provider"], "securecam-relay");
    assert_eq!(first["ended_at"], Value::Null);
    let stream = first["media_session_id"].as_str().unwrap().to_string();
    // The relay runs in this process: its endpoints are where the request came in.
    assert_eq!(
        first["subscribe_endpoint"],
        app.base_url.clone() + "/media/whep/" + &stream
    );
    let subscribe = claims(&first["subscribe_token"]);
    assert_eq!(subscribe["dir"], "subscribe");
    assert_eq!(subscribe["stream"], stream.as_str());
    assert_eq!(subscribe["sub"], phone.id.as_str());
    assert_eq!(subscribe["sid"], first["id"]);
    let lifetime = subscribe["exp"].as_i64().unwrap() - subscribe["iat"].as_i64().unwrap();
    assert!((1..=300).contains(&lifetime), "short-lived: {lifetime} s");
    // STUN as configured; TURN with TURN REST credentials that expire.
    let ice = first["ice_servers"].as_array().unwrap();
    assert_eq!(ice[0], json!({"urls": ["stun:stun.example.org:3478"]}));
    assert_eq!(ice[1]["urls"], json!(["turn:turn.example.org:3478"]));
    let username = ice[1]["username"].as_str().unwrap();
    let expiry: i64 = username.split(':').next().unwrap().parse().unwrap();
    assert!(expiry > chrono::Utc::now().timestamp());
    assert!(!ice[1]["credential"].as_str().unwrap().is_empty());

    // The camera is told to publish, with its own token for its own stream.
    let start = ws_next_of_type(&mut camera_ws, "command").await["command"].clone();
    assert_eq!(start["command_type"], "start_stream");
    assert_eq!(start["payload"]["stream_session_id"], first["id"]);
    assert_eq!(
        start["payload"]["publish_endpoint"],
        app.base_url.clone() + "/media/whip/" + &stream
    );
    let publish = claims(&start["payload"]["publish_token"]);
    assert_eq!(publish["dir"], "publish");
    assert_eq!(publish["stream"], stream.as_str());
    assert_eq!(publish["sub"], camera.id.as_str());
    assert_eq!(start["payload"]["ice_servers"].as_array().unwrap().len(), 2);

    // It acknowledges: the session is starting and the requester hears so.
    ws_send(
        &mut camera_ws,
        &json!({"type": "command.ack", "command_id": start["id"], "status": "acknowledged"})
            .to_string(),
    )
    .await;
    let update = ws_next_of_type(&mut phone_ws, "stream.updated").await;
    assert_eq!(update["stream_session"]["id"], first["id"]);
    assert_eq!(update["stream_session"]["status"], "starting");
    assert_eq!(
        session_status(&app, &owner.token, &first["id"]).await["status"],
        "starting"
    );

    // A second viewer (with its device token) joins the same publish: no second command.
    let second = open_session(&app, &tablet.token, &camera.id, &tablet.id).await;
    assert_eq!(second["status"], "starting");
    assert_eq!(second["media_session_id"], stream.as_str());
    assert_eq!(
        claims(&second["subscribe_token"])["sub"],
        tablet.id.as_str()
    );
    ws_expect_none_of_type(&mut camera_ws, "command", Duration::from_millis(700)).await;

    // The first viewer leaves; the camera is still needed by the second.
    let gone = app
        .delete(
            &format!("/api/v1/stream-sessions/{}", first["id"].as_str().unwrap()),
            Some(&phone.token),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let ended = session_status(&app, &owner.token, &first["id"]).await;
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["end_reason"], "ended_by_viewer");
    assert!(ended["ended_at"].is_string());
    ws_expect_none_of_type(&mut camera_ws, "command", Duration::from_millis(2_000)).await;

    // The last viewer leaves (twice: ending an ended session changes nothing); after the idle
    // period the camera is told to stop.
    for _ in 0..2 {
        let gone = app
            .delete(
                &format!("/api/v1/stream-sessions/{}", second["id"].as_str().unwrap()),
                Some(&owner.token),
            )
            .await;
        assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    }
    let stop = ws_next_of_type(&mut camera_ws, "command").await["command"].clone();
    assert_eq!(stop["command_type"], "stop_stream");
    assert_eq!(stop["payload"], json!({"stream_session_id": second["id"]}));
    // Once only.
    ws_expect_none_of_type(&mut camera_ws, "command", Duration::from_millis(1_500)).await;

    let audit = app.audit_actions(&owner.token).await;
    assert_eq!(audit.iter().filter(|a| *a == "stream.start").count(), 2);
    assert_eq!(audit.iter().filter(|a| *a == "stream.end").count(), 2);

    // ICE servers on their own, for any signed-in caller.
    let servers = expect_json(
        app.get("/api/v1/ice-servers", Some(&phone.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(servers["ice_servers"].as_array().unwrap().len(), 2);
    assert!(servers["expires_at"].is_string());
    let anonymous = app.get("/api/v1/ice-servers", None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn sessions_fail_when_the_camera_does_not_publish(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.signal.stream_publish_timeout_secs = 1).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Garage", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let mut phone_ws = app.connect_device(&phone.token).await;

    // The camera is offline and never publishes.
    let session = open_session(&app, &owner.token, &camera.id, &phone.id).await;
    assert_eq!(session["status"], "requested");
    let update = ws_next_of_type(&mut phone_ws, "stream.updated").await["stream_session"].clone();
    assert_eq!(update["id"], session["id"]);
    assert_eq!(update["status"], "failed");
    assert_eq!(update["end_reason"], "publish_timeout");
    let stored = session_status(&app, &owner.token, &session["id"]).await;
    assert_eq!(stored["status"], "failed");
    assert!(stored["ended_at"].is_string());
    // Its start_stream lived no longer than the session could wait: a camera that comes back
    // later is not told to publish for a session that is over.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let mut camera_ws = app.connect_device(&camera.token).await;
    ws_expect_none_of_type(&mut camera_ws, "command", Duration::from_millis(700)).await;
}

async fn a_camera_that_refuses_fails_its_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Hall", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let mut camera_ws = app.connect_device(&camera.token).await;
    let mut phone_ws = app.connect_device(&phone.token).await;

    let session = open_session(&app, &phone.token, &camera.id, &phone.id).await;
    let start = ws_next_of_type(&mut camera_ws, "command").await["command"].clone();
    assert_eq!(start["command_type"], "start_stream");
    ws_send(
        &mut camera_ws,
        &json!({"type": "command.ack", "command_id": start["id"], "status": "failed", "error": "camera in use"})
            .to_string(),
    )
    .await;
    let update = ws_next_of_type(&mut phone_ws, "stream.updated").await["stream_session"].clone();
    assert_eq!(update["id"], session["id"]);
    assert_eq!(update["status"], "failed");
    assert_eq!(update["end_reason"], "camera_refused");
    assert_eq!(
        session_status(&app, &phone.token, &session["id"]).await["status"],
        "failed"
    );
    // A failed session cannot be ended again into something else.
    let gone = app
        .delete(
            &format!(
                "/api/v1/stream-sessions/{}",
                session["id"].as_str().unwrap()
            ),
            Some(&phone.token),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        session_status(&app, &phone.token, &session["id"]).await["status"],
        "failed"
    );
}

async fn revoking_a_link_ends_the_clients_views(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let friend = app.sign_up("friend@example.com").await;
    let camera = app.create_device(&owner.token, "Shop", "camera").await;
    let friends_phone = app.create_device(&friend.token, "Friend", "viewer").await;
    let link = app.share(&owner, &camera, &friend, &friends_phone).await;
    let mut friend_ws = app.connect_device(&friends_phone.token).await;
    let mut camera_ws = app.connect_device(&camera.token).await;

    // The friend may watch the shared camera; the session belongs to the camera's owner.
    let session = open_session(&app, &friend.token, &camera.id, &friends_phone.id).await;
    assert_eq!(session["owner_user_id"], owner.id.as_str());
    let start = ws_next_of_type(&mut camera_ws, "command").await["command"].clone();
    assert_eq!(start["command_type"], "start_stream");
    assert_eq!(
        session_status(&app, &owner.token, &session["id"]).await["id"],
        session["id"]
    );
    assert_eq!(
        session_status(&app, &friends_phone.token, &session["id"]).await["id"],
        session["id"]
    );

    // The owner revokes the link: the friend's view ends within 2 seconds and it is told.
    let revoked_at = std::time::Instant::now();
    let revoke = app
        .delete(
            &format!("/api/v1/device-links/{}", link["id"].as_str().unwrap()),
            Some(&owner.token),
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let update = ws_next_of_type(&mut friend_ws, "stream.updated").await["stream_session"].clone();
    assert!(revoked_at.elapsed() < Duration::from_secs(2));
    assert_eq!(update["id"], session["id"]);
    assert_eq!(update["status"], "ended");
    assert_eq!(update["end_reason"], "access_revoked");
    let stored = session_status(&app, &owner.token, &session["id"]).await;
    assert_eq!(stored["status"], "ended");
    // And it cannot start another.
    let again = app
        .post(
            "/api/v1/stream-sessions",
            Some(&friend.token),
            &json!({"camera_device_id": camera.id, "requester_device_id": friends_phone.id, "reason": "live_view"}),
        )
        .await;
    expect_problem(again, StatusCode::NOT_FOUND, "not_found").await;
}

async fn deleting_the_camera_ends_its_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let friend = app.sign_up("friend@example.com").await;
    let camera = app.create_device(&owner.token, "Yard", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let friends_phone = app.create_device(&friend.token, "Friend", "viewer").await;
    app.share(&owner, &camera, &friend, &friends_phone).await;

    let mine = open_session(&app, &owner.token, &camera.id, &phone.id).await;
    let theirs = open_session(&app, &friend.token, &camera.id, &friends_phone.id).await;
    // The friend deletes their own phone: only its session ends.
    let gone = app
        .delete(
            &format!("/api/v1/devices/{}", friends_phone.id),
            Some(&friend.token),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let stored = session_status(&app, &owner.token, &theirs["id"]).await;
    assert_eq!(stored["status"], "ended");
    assert_eq!(stored["end_reason"], "device_deleted");
    assert_eq!(
        session_status(&app, &owner.token, &mine["id"]).await["status"],
        "requested"
    );
    // The owner deletes the camera: every session of it ends.
    let gone = app
        .delete(
            &format!("/api/v1/devices/{}", camera.id),
            Some(&owner.token),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let stored = session_status(&app, &owner.token, &mine["id"]).await;
    assert_eq!(stored["status"], "ended");
    assert_eq!(stored["end_reason"], "device_deleted");
    assert_eq!(stored["camera_device_id"], Value::Null);
}

async fn other_owners_and_bad_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let other = app.sign_up("other@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let others_camera = app.create_device(&other.token, "Theirs", "camera").await;
    let others_phone = app.create_device(&other.token, "Other", "viewer").await;
    let session = open_session(&app, &owner.token, &camera.id, &phone.id).await;
    let path = format!(
        "/api/v1/stream-sessions/{}",
        session["id"].as_str().unwrap()
    );

    let attempt = |token: String, camera: String, requester: String| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/stream-sessions",
                Some(&token),
                &json!({"camera_device_id": camera, "requester_device_id": requester, "reason": "live_view"}),
            )
            .await
        }
    };
    // Another owner's camera, or another owner's device as requester: not found, either way.
    for (token, cam, requester) in [
        (&other.token, &camera.id, &others_phone.id),
        (&other.token, &camera.id, &phone.id),
        (&owner.token, &others_camera.id, &phone.id),
        (&owner.token, &camera.id, &others_phone.id),
        (&others_phone.token, &camera.id, &others_phone.id),
    ] {
        let response = attempt(token.clone(), cam.clone(), requester.clone()).await;
        expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Another owner cannot see or end the session (and a camera's token, anyone's, touches
    // no stream session at all: the same 403 whatever the id).
    for camera_token in [&others_camera.token, &camera.token] {
        for response in [
            app.get(&path, Some(camera_token)).await,
            app.delete(&path, Some(camera_token)).await,
        ] {
            expect_problem(response, StatusCode::FORBIDDEN, "camera_token_not_allowed").await;
        }
    }
    for token in [&other.token, &others_phone.token] {
        expect_problem(
            app.get(&path, Some(token)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.delete(&path, Some(token)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_eq!(
        session_status(&app, &owner.token, &session["id"]).await["status"],
        "requested"
    );

    // A device token requests for itself only; only cameras can be watched.
    let response = attempt(phone.token.clone(), camera.id.clone(), camera.id.clone()).await;
    expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_requester",
    )
    .await;
    let response = attempt(owner.token.clone(), phone.id.clone(), phone.id.clone()).await;
    expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "not_a_camera").await;

    // Malformed and invalid bodies, unknown and malformed ids, no credential.
    let bogus_reason = app
        .post(
            "/api/v1/stream-sessions",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id, "requester_device_id": phone.id, "reason": "spying"}),
        )
        .await;
    expect_problem(
        bogus_reason,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let missing = app
        .post(
            "/api/v1/stream-sessions",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id}),
        )
        .await;
    expect_problem(missing, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let malformed = app
        .client
        .post(app.url("/api/v1/stream-sessions"))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_problem(malformed, StatusCode::BAD_REQUEST, "malformed_json").await;
    let unknown = format!("/api/v1/stream-sessions/{}", uuid::Uuid::now_v7());
    expect_problem(
        app.get(&unknown, Some(&owner.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get("/api/v1/stream-sessions/not-an-id", Some(&owner.token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let anonymous = app
        .post(
            "/api/v1/stream-sessions",
            None,
            &json!({"camera_device_id": camera.id, "requester_device_id": phone.id, "reason": "live_view"}),
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Nothing was stored by any refused request: the owner's camera has one start_stream.
    let commands = expect_json(
        app.get(
            &format!("/api/v1/devices/{}/commands", camera.id),
            Some(&owner.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(commands["items"].as_array().unwrap().len(), 1);
    let audit = app.audit_actions(&owner.token).await;
    assert_eq!(audit.iter().filter(|a| *a == "stream.start").count(), 1);
}
