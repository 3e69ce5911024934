//! Commands end to end with real WebSocket clients: REST and `command.send`, delivery and
//! acknowledgement, offline queueing with redelivery after a reconnect and after a server
//! restart, retries with backoff, expiry, idempotency, revoked links, bad input and other
//! owners' attempts.

use std::time::Duration;

use reqwest::StatusCode;
use securecam_tests::{
    both_backends, expect_json, expect_problem, item_ids, spawn_app, spawn_app_with,
    ws_expect_none_of_type, ws_next_json, ws_next_of_type, ws_send, Backend, TestApp, WsClient,
};
use serde_json::{json, Value};

both_backends!(
    round_trip_over_rest_and_websocket,
    offline_commands_arrive_oldest_first_after_reconnect_and_restart,
    unacknowledged_commands_are_retried_with_backoff,
    expired_commands_are_not_delivered,
    idempotency_keys_make_retries_safe,
    bad_commands_are_refused_and_nothing_is_stored,
    other_owners_cannot_command_or_see,
    revoking_a_link_stops_its_commands,
    offline_device_with_push_token_gets_a_wake_up,
);

async fn send_command(app: &TestApp, token: &str, target: &str, body: Value) -> Value {
    let response = app
        .post(
            &format!("/api/v1/devices/{target}/commands"),
            Some(token),
            &body,
        )
        .await;
    expect_json(response, StatusCode::ACCEPTED).await["command"].clone()
}

async fn get_command(app: &TestApp, token: &str, id: &str) -> Value {
    expect_json(
        app.get(&format!("/api/v1/commands/{id}"), Some(token))
            .await,
        StatusCode::OK,
    )
    .await
}

/// Polls the command until its status is `status` (the database is the truth).
async fn wait_for_status(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    for _ in 0..100 {
        let command = get_command(app, token, id).await;
        if command["status"] == status {
            return command;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("command {id} never became {status}");
}

async fn ack(ws: &mut WsClient, id: &Value, status: &str, extra: Value) {
    let mut frame = json!({"type": "command.ack", "command_id": id, "status": status});
    frame
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    ws_send(ws, &frame.to_string()).await;
}

async fn round_trip_over_rest_and_websocket(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let mut camera_ws = app.connect_device(&camera.token).await;
    let mut phone_ws = app.connect_device(&phone.token).await;

    // REST with a user token: stored queued, delivered at once, acknowledged with a result.
    let sent = send_command(
        &app,
        &owner.token,
        &camera.id,
        json!({"command_type": "set_motion_detection", "payload": {"enabled": true, "sensitivity": 70}}),
    )
    .await;
    assert_eq!(sent["status"], "queued");
    assert_eq!(sent["owner_user_id"], owner.id.as_str());
    assert_eq!(sent["target_device_id"], camera.id.as_str());
    assert_eq!(sent["source_device_id"], Value::Null);
    assert_eq!(sent["payload"], json!({"enabled": true, "sensitivity": 70}));
    assert_eq!(sent["retry_count"], 0);
    let delivered = ws_next_of_type(&mut camera_ws, "command").await["command"].clone();
    assert_eq!(delivered["id"], sent["id"]);
    assert_eq!(delivered["status"], "dispatched");
    assert_eq!(delivered["command_type"], "set_motion_detection");
    ack(
        &mut camera_ws,
        &sent["id"],
        "acknowledged",
        json!({"result": {"applied": true}}),
    )
    .await;
    let done = wait_for_status(
        &app,
        &owner.token,
        sent["id"].as_str().unwrap(),
        "acknowledged",
    )
    .await;
    assert_eq!(done["result"], json!({"applied": true}));
    assert!(done["acknowledged_at"].is_string());
    assert!(done["last_dispatched_at"].is_string());

    // `command.send` from the phone: accepted with its ref, delivered, failed by the camera,
    // and the phone hears what became of it.
    ws_send(
        &mut phone_ws,
        &json!({"type": "command.send", "ref": "r1", "target_device_id": camera.id,
                "command_type": "set_torch", "payload": {"on": true}, "ttl_seconds": 30})
        .to_string(),
    )
    .await;
    let accepted = ws_next_of_type(&mut phone_ws, "command.accepted").await;
    assert_eq!(accepted["ref"], "r1");
    let command = &accepted["command"];
    assert_eq!(command["source_device_id"], phone.id.as_str());
    assert_eq!(command["status"], "queued");
    let delivered = ws_next_of_type(&mut camera_ws, "command").await["command"].clone();
    assert_eq!(delivered["id"], command["id"]);
    ack(
        &mut camera_ws,
        &command["id"],
        "failed",
        json!({"error": "no torch on this phone"}),
    )
    .await;
    let updated = ws_next_of_type(&mut phone_ws, "command.updated").await["command"].clone();
    assert_eq!(updated["id"], command["id"]);
    assert_eq!(updated["status"], "failed");
    assert_eq!(updated["error"], "no torch on this phone");
    // A repeated ack is harmless and unanswered; the connection carries on.
    ack(&mut camera_ws, &command["id"], "failed", json!({})).await;
    ws_send(&mut camera_ws, r#"{"type":"ping","ref":1}"#).await;
    assert_eq!(
        ws_next_json(&mut camera_ws).await,
        json!({"type": "pong", "ref": 1})
    );

    // Lists, newest first, filtered by status; the camera's own token sees them too.
    let path = format!("/api/v1/devices/{}/commands", camera.id);
    let all = expect_json(app.get(&path, Some(&owner.token)).await, StatusCode::OK).await;
    assert_eq!(
        item_ids(&all),
        vec![
            command["id"].as_str().unwrap(),
            sent["id"].as_str().unwrap()
        ]
    );
    let failed = expect_json(
        app.get(&format!("{path}?status=failed"), Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&failed), vec![command["id"].as_str().unwrap()]);
    let by_camera = expect_json(app.get(&path, Some(&camera.token)).await, StatusCode::OK).await;
    assert_eq!(item_ids(&by_camera).len(), 2);
    let bad_status = app
        .get(&format!("{path}?status=sideways"), Some(&owner.token))
        .await;
    expect_problem(bad_status, StatusCode::BAD_REQUEST, "invalid_query").await;

    // Each command is on the owner's audit trail.
    let actions = app.audit_actions(&owner.token).await;
    assert_eq!(actions.iter().filter(|a| *a == "command.create").count(), 2);
}

async fn offline_commands_arrive_oldest_first_after_reconnect_and_restart(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let mut ids = Vec::new();
    // Commands the camera alone acts on (`start_recording` would also make the server record
    // the camera, and so send it a `start_stream` of its own).
    for kind in ["ping", "take_snapshot", "stop_recording"] {
        let sent = send_command(
            &app,
            &owner.token,
            &camera.id,
            json!({"command_type": kind}),
        )
        .await;
        ids.push(sent["id"].clone());
    }

    // The camera connects: its backlog, oldest first, right after hello.
    let mut ws = app.connect_device(&camera.token).await;
    for id in &ids {
        let command = ws_next_of_type(&mut ws, "command").await["command"].clone();
        assert_eq!(&command["id"], id);
        assert_eq!(command["retry_count"], 0);
    }
    // It drops without answering; reconnecting gets the same three again.
    drop(ws);
    let mut ws = app.connect_device(&camera.token).await;
    for id in &ids {
        let command = ws_next_of_type(&mut ws, "command").await["command"].clone();
        assert_eq!(&command["id"], id);
        assert_eq!(command["retry_count"], 1, "a redelivery counts as a retry");
    }
    ack(&mut ws, &ids[0], "acknowledged", json!({})).await;
    wait_for_status(&app, &owner.token, ids[0].as_str().unwrap(), "acknowledged").await;
    drop(ws);

    // A restart loses nothing: the two unanswered commands arrive from the new server.
    app.restart().await;
    let mut ws = app.connect_device(&camera.token).await;
    for id in &ids[1..] {
        let command = ws_next_of_type(&mut ws, "command").await["command"].clone();
        assert_eq!(&command["id"], id);
    }
    for id in &ids[1..] {
        ack(&mut ws, id, "acknowledged", json!({})).await;
    }
    for id in &ids[1..] {
        wait_for_status(&app, &owner.token, id.as_str().unwrap(), "acknowledged").await;
    }
    ws_expect_none_of_type(&mut ws, "command", Duration::from_millis(500)).await;
}

async fn unacknowledged_commands_are_retried_with_backoff(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.signal.command_retry_first_ms = 300;
        s.signal.command_retry_max_ms = 600;
        s.signal.command_sweep_interval_ms = 50;
    })
    .await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let mut ws = app.connect_device(&camera.token).await;
    let sent = send_command(
        &app,
        &owner.token,
        &camera.id,
        json!({"command_type": "ping"}),
    )
    .await;

    let mut retries = Vec::new();
    for _ in 0..3 {
        let command = ws_next_of_type(&mut ws, "command").await["command"].clone();
        assert_eq!(command["id"], sent["id"]);
        retries.push(command["retry_count"].as_i64().unwrap());
    }
    assert_eq!(retries, vec![0, 1, 2], "sent again until answered");
    ack(&mut ws, &sent["id"], "acknowledged", json!({})).await;
    let done = wait_for_status(
        &app,
        &owner.token,
        sent["id"].as_str().unwrap(),
        "acknowledged",
    )
    .await;
    assert_eq!(done["retry_count"], 2);
    // Answered: never sent again.
    ws_expect_none_of_type(&mut ws, "command", Duration::from_millis(1500)).await;
}

async fn expired_commands_are_not_delivered(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.signal.command_sweep_interval_ms = 50).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let mut phone_ws = app.connect_device(&phone.token).await;
    ws_send(
        &mut phone_ws,
        &json!({"type": "command.send", "ref": 9, "target_device_id": camera.id,
                "command_type": "play_siren", "payload": {"seconds": 5}, "ttl_seconds": 1})
        .to_string(),
    )
    .await;
    let command = ws_next_of_type(&mut phone_ws, "command.accepted").await["command"].clone();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(command["expires_at"].as_str().unwrap()).unwrap();
    let created_at =
        chrono::DateTime::parse_from_rfc3339(command["created_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires_at - created_at).num_seconds(), 1);

    // The sender is told; the database says expired; the camera never gets it.
    let updated = ws_next_of_type(&mut phone_ws, "command.updated").await["command"].clone();
    assert_eq!(updated["id"], command["id"]);
    assert_eq!(updated["status"], "expired");
    wait_for_status(
        &app,
        &phone.token,
        command["id"].as_str().unwrap(),
        "expired",
    )
    .await;
    let mut camera_ws = app.connect_device(&camera.token).await;
    ws_expect_none_of_type(&mut camera_ws, "command", Duration::from_millis(500)).await;
    // Answering it late changes nothing.
    ack(
        &mut camera_ws,
        &command["id"],
        "acknowledged",
        json!({"ref": "late"}),
    )
    .await;
    let error = ws_next_of_type(&mut camera_ws, "error").await;
    assert_eq!(error["code"], "command_finished");
    assert_eq!(error["ref"], "late");
    assert_eq!(
        get_command(&app, &owner.token, command["id"].as_str().unwrap()).await["status"],
        "expired"
    );
}

async fn idempotency_keys_make_retries_safe(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let path = format!("/api/v1/devices/{}/commands", camera.id);
    let post = |body: Value, key: &'static str| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&owner.token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = post(
        json!({"command_type": "play_siren", "payload": {"seconds": 10}}),
        "siren-1",
    )
    .await
    .unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = first.json::<Value>().await.unwrap()["command"].clone();
    let again = post(
        json!({"command_type": "play_siren", "payload": {"seconds": 10}}),
        "siren-1",
    )
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["command"], first);
    let different = post(
        json!({"command_type": "play_siren", "payload": {"seconds": 20}}),
        "siren-1",
    )
    .await
    .unwrap();
    expect_problem(
        different,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    let other_key = post(
        json!({"command_type": "play_siren", "payload": {"seconds": 10}}),
        "siren-2",
    )
    .await
    .unwrap();
    let other = expect_json(other_key, StatusCode::ACCEPTED).await;
    assert_ne!(other["command"]["id"], first["id"]);
    let list = expect_json(app.get(&path, Some(&owner.token)).await, StatusCode::OK).await;
    assert_eq!(item_ids(&list).len(), 2, "one command per key");
}

async fn bad_commands_are_refused_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let path = format!("/api/v1/devices/{}/commands", camera.id);
    let cases = [
        (
            json!({"command_type": "teleport"}),
            StatusCode::BAD_REQUEST,
            "unknown_command_type",
        ),
        (
            json!({"command_type": "play_siren", "payload": {"seconds": 61}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
        ),
        (
            json!({"command_type": "switch_camera", "payload": {"facing": "sideways"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
        ),
        (
            json!({"command_type": "set_torch", "payload": "on"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
        ),
        (
            json!({"command_type": "ping", "ttl_seconds": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_ttl",
        ),
        (
            json!({"command_type": "ping", "ttl_seconds": 604801}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_ttl",
        ),
        (
            json!({"command_type": "start_stream", "payload": {}}),
            StatusCode::FORBIDDEN,
            "server_issued_command",
        ),
    ];
    for (body, status, code) in cases {
        let response = app.post(&path, Some(&owner.token), &body).await;
        expect_problem(response, status, code).await;
    }
    // A device token names no other source than itself.
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let response = app
        .post(
            &path,
            Some(&phone.token),
            &json!({"command_type": "ping", "source_device_id": camera.id}),
        )
        .await;
    expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_source_device",
    )
    .await;
    let malformed = app
        .client
        .post(app.url(&path))
        .bearer_auth(&owner.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let list = expect_json(app.get(&path, Some(&owner.token)).await, StatusCode::OK).await;
    assert!(item_ids(&list).is_empty(), "nothing was stored");

    // Over the WebSocket: an `error` with the ref, and the connection stays.
    let mut ws = app.connect_device(&phone.token).await;
    let frames = [
        (
            json!({"type": "command.send", "ref": "a", "target_device_id": camera.id, "command_type": "teleport"}),
            "unknown_command_type",
        ),
        (
            json!({"type": "command.send", "ref": "b", "target_device_id": camera.id, "command_type": "play_siren", "payload": {"seconds": 0}}),
            "invalid_payload",
        ),
        (
            json!({"type": "command.send", "ref": "c", "target_device_id": "not-a-uuid", "command_type": "ping"}),
            "invalid_message",
        ),
        (
            json!({"type": "command.send", "ref": "d", "target_device_id": uuid::Uuid::now_v7(), "command_type": "ping"}),
            "not_found",
        ),
        (
            json!({"type": "command.ack", "ref": "e", "command_id": uuid::Uuid::now_v7(), "status": "acknowledged"}),
            "command_not_found",
        ),
        (
            json!({"type": "command.ack", "ref": "f", "command_id": uuid::Uuid::now_v7(), "status": "queued"}),
            "invalid_message",
        ),
    ];
    for (frame, code) in frames {
        ws_send(&mut ws, &frame.to_string()).await;
        let error = ws_next_of_type(&mut ws, "error").await;
        assert_eq!(error["code"], code, "{frame}");
        assert_eq!(error["ref"], frame["ref"]);
    }
    ws_send(&mut ws, r#"{"type":"ping","ref":"still-here"}"#).await;
    assert_eq!(ws_next_of_type(&mut ws, "pong").await["ref"], "still-here");
    let list = expect_json(app.get(&path, Some(&owner.token)).await, StatusCode::OK).await;
    assert!(item_ids(&list).is_empty(), "still nothing stored");
}

async fn other_owners_cannot_command_or_see(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let stranger = app.sign_up("stranger@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let strangers_phone = app.create_device(&stranger.token, "Phone", "viewer").await;
    let mut camera_ws = app.connect_device(&camera.token).await;
    let sent = send_command(
        &app,
        &owner.token,
        &camera.id,
        json!({"command_type": "ping"}),
    )
    .await;
    let id = sent["id"].as_str().unwrap();
    ws_next_of_type(&mut camera_ws, "command").await;

    let path = format!("/api/v1/devices/{}/commands", camera.id);
    for token in [&stranger.token, &strangers_phone.token] {
        let attempt = app
            .post(
                &path,
                Some(token),
                &json!({"command_type": "play_siren", "payload": {"seconds": 60}}),
            )
            .await;
        expect_problem(attempt, StatusCode::NOT_FOUND, "not_found").await;
        expect_problem(
            app.get(&path, Some(token)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.get(&format!("/api/v1/commands/{id}"), Some(token))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        let cancel = app
            .post(
                &format!("/api/v1/commands/{id}/cancel"),
                Some(token),
                &json!({}),
            )
            .await;
        expect_problem(cancel, StatusCode::NOT_FOUND, "not_found").await;
    }
    // Naming one's own device as the source of a command to someone else's camera: 404.
    let borrowed = app
        .post(
            &path,
            Some(&stranger.token),
            &json!({"command_type": "ping", "source_device_id": strangers_phone.id}),
        )
        .await;
    expect_problem(borrowed, StatusCode::NOT_FOUND, "not_found").await;
    // Naming someone else's device as the source: 404 as well.
    let impersonated = app
        .post(
            &format!("/api/v1/devices/{}/commands", strangers_phone.id),
            Some(&owner.token),
            &json!({"command_type": "ping", "source_device_id": camera.id}),
        )
        .await;
    expect_problem(impersonated, StatusCode::NOT_FOUND, "not_found").await;

    // Over the WebSocket too; and the camera never hears from the stranger.
    let mut ws = app.connect_device(&strangers_phone.token).await;
    ws_send(&mut ws, &json!({"type": "command.send", "ref": 1, "target_device_id": camera.id, "command_type": "ping"}).to_string()).await;
    assert_eq!(ws_next_of_type(&mut ws, "error").await["code"], "not_found");
    // Answering someone else's command is refused and changes nothing.
    ack(&mut ws, &sent["id"], "failed", json!({"ref": 2})).await;
    assert_eq!(
        ws_next_of_type(&mut ws, "error").await["code"],
        "command_not_found"
    );
    assert_eq!(
        get_command(&app, &owner.token, id).await["status"],
        "dispatched"
    );
    ws_expect_none_of_type(&mut camera_ws, "command", Duration::from_millis(300)).await;
}

async fn revoking_a_link_stops_its_commands(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let friend = app.sign_up("friend@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let friends_phone = app.create_device(&friend.token, "Phone", "viewer").await;
    let link = app.share(&owner, &camera, &friend, &friends_phone).await;

    // The friend's phone may command the shared camera (the owner sees it; the camera is
    // offline so it waits).
    let mut ws = app.connect_device(&friends_phone.token).await;
    ws_send(&mut ws, &json!({"type": "command.send", "ref": 1, "target_device_id": camera.id, "command_type": "take_snapshot"}).to_string()).await;
    let command = ws_next_of_type(&mut ws, "command.accepted").await["command"].clone();
    assert_eq!(command["owner_user_id"], owner.id.as_str());
    let id = command["id"].as_str().unwrap();
    get_command(&app, &owner.token, id).await;
    get_command(&app, &friend.token, id).await;
    // ...but with a user token alone (no linked device named) the friend has no rights.
    let direct = app
        .post(
            &format!("/api/v1/devices/{}/commands", camera.id),
            Some(&friend.token),
            &json!({"command_type": "ping"}),
        )
        .await;
    expect_problem(direct, StatusCode::NOT_FOUND, "not_found").await;

    let revoked = app
        .delete(
            &format!("/api/v1/device-links/{}", link["id"].as_str().unwrap()),
            Some(&owner.token),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let cancelled = get_command(&app, &owner.token, id).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["error"], "link revoked");
    ws_send(&mut ws, &json!({"type": "command.send", "ref": 2, "target_device_id": camera.id, "command_type": "ping"}).to_string()).await;
    let error = ws_next_of_type(&mut ws, "error").await;
    assert_eq!(error["code"], "not_found");
    assert_eq!(error["ref"], 2);
    // The camera, connecting now, gets nothing of the friend's.
    let mut camera_ws = app.connect_device(&camera.token).await;
    ws_expect_none_of_type(&mut camera_ws, "command", Duration::from_millis(300)).await;
}

async fn offline_device_with_push_token_gets_a_wake_up(backend: Backend) {
    // Without the notifier, which would take the job at once (its sending is tested in
    // notifier.rs): this is about what is queued.
    let app = securecam_tests::spawn_components(
        backend,
        &[
            securecam::Component::Signal,
            securecam::Component::Relay,
            securecam::Component::Recorder,
        ],
        |_| {},
    )
    .await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = expect_json(
        app.post(
            "/api/v1/devices",
            Some(&owner.token),
            &json!({"name": "Door", "role": "camera", "platform": "android",
                    "push_provider": "fcm", "push_token": "fcm-registration-token"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let camera_id = camera["device"]["id"].as_str().unwrap();
    let camera_token = camera["device_token"].as_str().unwrap();
    let sent = send_command(
        &app,
        &owner.token,
        camera_id,
        json!({"command_type": "take_snapshot"}),
    )
    .await;
    send_command(
        &app,
        &owner.token,
        camera_id,
        json!({"command_type": "ping"}),
    )
    .await;

    let deliveries = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    let items = deliveries["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "one wake-up while one is pending: {deliveries}"
    );
    assert_eq!(items[0]["type"], "command_wakeup");
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["recipient_device_id"], camera_id);
    assert_eq!(items[0]["command_id"], sent["id"]);
    let pending = expect_json(
        app.get(
            "/api/v1/notification-deliveries?status=pending",
            Some(&owner.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&pending), item_ids(&deliveries));

    // Once the camera is online, commands need no wake-up.
    let mut ws = app.connect_device(camera_token).await;
    ws_next_of_type(&mut ws, "command").await;
    send_command(
        &app,
        &owner.token,
        camera_id,
        json!({"command_type": "ping"}),
    )
    .await;
    let after = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after["items"].as_array().unwrap().len(), 1);
    // Nobody else sees the delivery.
    let stranger = app.sign_up("stranger@example.com").await;
    let theirs = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&stranger.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(item_ids(&theirs).is_empty());
}
