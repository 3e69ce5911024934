//! The device WebSocket: authentication, hello, ping, bad input, limits, replacement,
//! presence.

use std::time::Duration;

use reqwest::StatusCode;
use securecam_tests::{
    both_backends, expect_json, spawn_app, spawn_app_with, ws_close_code, ws_next_json, ws_send,
    Backend, TestApp,
};
use serde_json::json;

both_backends!(
    hello_ping_and_presence_in_the_database,
    bad_frames_get_errors_and_the_connection_stays,
    oversized_frames_and_floods_close_the_connection,
    a_newer_connection_replaces_the_older,
    owners_devices_see_presence_and_nobody_else_does,
    tickets_and_credentials,
    missed_heartbeats_mark_the_device_offline,
    pings_report_the_battery,
);

async fn device_status(app: &TestApp, user_token: &str, device_id: &str) -> String {
    let device = expect_json(
        app.get(&format!("/api/v1/devices/{device_id}"), Some(user_token))
            .await,
        StatusCode::OK,
    )
    .await;
    device["status"].as_str().unwrap().to_string()
}

/// Polls until the device shows `status` (presence is written as the socket closes).
async fn wait_for_status(app: &TestApp, user_token: &str, device_id: &str, status: &str) {
    for _ in 0..100 {
        if device_status(app, user_token, device_id).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("device {device_id} never became {status}");
}

async fn hello_ping_and_presence_in_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("ws@example.com").await;
    let camera = app.create_device(&user.token, "Camera", "camera").await;
    assert_eq!(
        device_status(&app, &user.token, &camera.id).await,
        "offline"
    );

    let mut ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    let hello = ws_next_json(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["device"]["id"], camera.id.as_str());
    assert_eq!(hello["device"]["status"], "online");
    assert_eq!(hello["heartbeat_interval_ms"], 15_000);
    assert!(hello["server_time"].is_string());
    assert!(hello["device"].get("push_token").is_none());
    assert_eq!(device_status(&app, &user.token, &camera.id).await, "online");

    ws_send(&mut ws, r#"{"type":"ping","ref":"p1"}"#).await;
    assert_eq!(
        ws_next_json(&mut ws).await,
        json!({"type": "pong", "ref": "p1"})
    );

    ws.close(None).await.unwrap();
    wait_for_status(&app, &user.token, &camera.id, "offline").await;
    let device = expect_json(
        app.get(&format!("/api/v1/devices/{}", camera.id), Some(&user.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(device["last_seen_at"].is_string());
}

async fn bad_frames_get_errors_and_the_connection_stays(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("ws@example.com").await;
    let camera = app.create_device(&user.token, "Camera", "camera").await;
    let mut ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    ws_next_json(&mut ws).await;
    for (frame, code) in [
        ("{not json", "invalid_json"),
        (r#"{"no":"type"}"#, "invalid_message"),
        (r#"{"type":"teleport","ref":9}"#, "unknown_type"),
    ] {
        ws_send(&mut ws, frame).await;
        let error = ws_next_json(&mut ws).await;
        assert_eq!(error["type"], "error", "{frame}");
        assert_eq!(error["code"], code, "{frame}");
        assert!(error["message"].is_string());
    }
    ws_send(&mut ws, r#"{"type":"ping"}"#).await;
    assert_eq!(
        ws_next_json(&mut ws).await,
        json!({"type": "pong"}),
        "still connected"
    );
}

async fn oversized_frames_and_floods_close_the_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("ws@example.com").await;
    let camera = app.create_device(&user.token, "Camera", "camera").await;

    let mut ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    ws_next_json(&mut ws).await;
    let big = format!(r#"{{"type":"ping","ref":"{}"}}"#, "x".repeat(70 * 1024));
    ws_send(&mut ws, &big).await;
    assert_eq!(ws_close_code(&mut ws).await, 1009);

    let mut ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    ws_next_json(&mut ws).await;
    for _ in 0..300 {
        use futures::SinkExt;
        if ws
            .feed(tokio_tungstenite::tungstenite::Message::text(
                r#"{"type":"ping"}"#,
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = futures::SinkExt::flush(&mut ws).await;
    assert_eq!(ws_close_code(&mut ws).await, 1008);
    wait_for_status(&app, &user.token, &camera.id, "offline").await;
}

async fn a_newer_connection_replaces_the_older(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("ws@example.com").await;
    let camera = app.create_device(&user.token, "Camera", "camera").await;
    let mut first = app.ws_connect(Some(&camera.token), "").await.unwrap();
    ws_next_json(&mut first).await;
    let mut second = app.ws_connect(Some(&camera.token), "").await.unwrap();
    ws_next_json(&mut second).await;
    assert_eq!(ws_close_code(&mut first).await, 4001);
    // The replaced connection's end does not take the device offline.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(device_status(&app, &user.token, &camera.id).await, "online");
    ws_send(&mut second, r#"{"type":"ping","ref":2}"#).await;
    assert_eq!(ws_next_json(&mut second).await["ref"], 2);
}

async fn owners_devices_see_presence_and_nobody_else_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let stranger = app.sign_up("stranger@example.com").await;
    let camera = app.create_device(&owner.token, "Camera", "camera").await;
    let viewer = app.create_device(&owner.token, "Phone", "viewer").await;
    let outsider = app.create_device(&stranger.token, "Other", "viewer").await;

    let mut viewer_ws = app.ws_connect(Some(&viewer.token), "").await.unwrap();
    ws_next_json(&mut viewer_ws).await;
    let mut outsider_ws = app.ws_connect(Some(&outsider.token), "").await.unwrap();
    ws_next_json(&mut outsider_ws).await;

    let mut camera_ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    ws_next_json(&mut camera_ws).await;
    assert_eq!(
        ws_next_json(&mut viewer_ws).await,
        json!({"type": "presence", "device_id": camera.id, "status": "online"})
    );
    camera_ws.close(None).await.unwrap();
    assert_eq!(
        ws_next_json(&mut viewer_ws).await,
        json!({"type": "presence", "device_id": camera.id, "status": "offline"})
    );

    // The stranger's device heard nothing of it: its next frame is the answer to its ping.
    ws_send(&mut outsider_ws, r#"{"type":"ping","ref":"only"}"#).await;
    assert_eq!(
        ws_next_json(&mut outsider_ws).await,
        json!({"type": "pong", "ref": "only"})
    );
}

async fn tickets_and_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("ws@example.com").await;
    let camera = app
        .create_device(&user.token, "Browser camera", "camera")
        .await;

    assert_eq!(
        app.ws_connect(None, "").await.unwrap_err(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.ws_connect(Some("scd_forged"), "").await.unwrap_err(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.ws_connect(Some(&user.token), "").await.unwrap_err(),
        StatusCode::FORBIDDEN
    );

    let refused = app
        .post("/api/v1/ws-tickets", Some(&user.token), &json!({}))
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "tickets are for devices"
    );
    let ticket = expect_json(
        app.post("/api/v1/ws-tickets", Some(&camera.token), &json!({}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let ticket = ticket["ticket"].as_str().unwrap().to_string();
    assert!(ticket.starts_with("sct_"));
    let mut ws = app
        .ws_connect(None, &format!("?ticket={ticket}"))
        .await
        .unwrap();
    assert_eq!(
        ws_next_json(&mut ws).await["device"]["id"],
        camera.id.as_str()
    );
    assert_eq!(
        app.ws_connect(None, &format!("?ticket={ticket}"))
            .await
            .unwrap_err(),
        StatusCode::UNAUTHORIZED,
        "a ticket works once"
    );

    // A plain GET without the WebSocket handshake gets a problem document.
    let plain = app.get("/api/v1/ws", Some(&camera.token)).await;
    assert!(plain.status().is_client_error());
    assert_eq!(plain.headers()["content-type"], "application/problem+json");
}

async fn missed_heartbeats_mark_the_device_offline(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.signal.ws_heartbeat_interval_ms = 100).await;
    let user = app.sign_up("ws@example.com").await;
    let camera = app.create_device(&user.token, "Camera", "camera").await;
    let mut ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    assert_eq!(ws_next_json(&mut ws).await["heartbeat_interval_ms"], 100);
    // A client that stops reading never answers the server's pings.
    wait_for_status(&app, &user.token, &camera.id, "offline").await;
    drop(ws);
}

/// A page cannot send WebSocket pings; its `ping` frames carry the battery instead.
async fn pings_report_the_battery(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("battery@example.com").await;
    let camera = app.create_device(&user.token, "Old phone", "camera").await;
    let path = format!("/api/v1/devices/{}", camera.id);
    let device = expect_json(app.get(&path, Some(&user.token)).await, StatusCode::OK).await;
    assert!(
        device["battery_level"].is_null(),
        "never reported: {device}"
    );

    let mut ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    assert_eq!(ws_next_json(&mut ws).await["type"], "hello");
    ws_send(
        &mut ws,
        r#"{"type":"ping","ref":1,"battery":{"level":0.37,"charging":false}}"#,
    )
    .await;
    assert_eq!(
        ws_next_json(&mut ws).await,
        json!({"type": "pong", "ref": 1})
    );
    let device = expect_json(app.get(&path, Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(device["battery_level"], 37);
    assert_eq!(device["battery_charging"], false);
    assert!(device["battery_reported_at"].is_string());

    // Nonsense is refused with an error and changes nothing; the connection stays.
    ws_send(&mut ws, r#"{"type":"ping","ref":2,"battery":{"level":5}}"#).await;
    let error = ws_next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "invalid_message");
    assert_eq!(error["ref"], 2);
    ws_send(
        &mut ws,
        r#"{"type":"ping","ref":3,"battery":{"level":1,"charging":true}}"#,
    )
    .await;
    assert_eq!(
        ws_next_json(&mut ws).await,
        json!({"type": "pong", "ref": 3})
    );
    let device = expect_json(app.get(&path, Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(device["battery_level"], 100);
    assert_eq!(device["battery_charging"], true);
}
