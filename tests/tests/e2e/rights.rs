//! Each credential does only its job: every route of the API, as `/openapi.json` lists it,
//! called with a camera's device token, a viewing device's token and a user session. A camera's
//! token is refused (403 `camera_token_not_allowed`) exactly where
//! `securecam_signal::auth::rights::CAMERA_ROUTES` does not list the route (or the id is not
//! the camera itself); the others never get that answer. Over the WebSocket, a camera cannot
//! send commands either.

use reqwest::{Method, StatusCode};
use securecam_signal::auth::rights::{camera_access, CameraAccess};
use securecam_tests::{both_backends, spawn_app, ws_next_json, ws_send, Backend};
use serde_json::{json, Value};

both_backends!(every_route_answers_each_credential_as_the_rights_table_says);

async fn every_route_answers_each_credential_as_the_rights_table_says(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@rights.test").await;
    let camera = app.create_device(&owner.token, "Porch", "camera").await;
    let garden = app.create_device(&owner.token, "Garden", "camera").await;
    let viewer = app
        .create_device(&owner.token, "Owner's phone", "viewer")
        .await;
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();

    // Camera first (it may change nothing it should not), then the others.
    let mut checked = 0;
    for (kind, token) in [
        ("camera", &camera.token),
        ("viewer", &viewer.token),
        ("user", &owner.token),
    ] {
        for (route, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if operation.get("security").is_none() {
                    continue; // Public: no credential is looked at.
                }
                let method: Method = method.to_uppercase().parse().unwrap();
                // The camera itself, another camera, and an id that is nobody's.
                let ids: &[&str] = match route.contains("{id}") {
                    true if kind == "camera" => &[&camera.id, &garden.id],
                    true => &["0193a3a0-0000-7000-8000-00000000dead"],
                    false => &[""],
                };
                for id in ids {
                    let path = route.replace("{id}", id);
                    let mut request = app
                        .client
                        .request(method.clone(), app.url(&path))
                        .bearer_auth(token);
                    if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
                        request = request.json(&json!({}));
                    }
                    let response = request.send().await.unwrap();
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let refused = status == StatusCode::FORBIDDEN
                        && body["code"] == "camera_token_not_allowed";
                    let access = match kind {
                        "camera" => camera_access(&method, route, &path, &camera.id),
                        _ => CameraAccess::Allowed,
                    };
                    assert_eq!(
                        refused,
                        access == CameraAccess::NotAllowed,
                        "{kind} token, {method} {path}: {status} {body}"
                    );
                    if access == CameraAccess::NotItself {
                        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "every route was tried: {checked}");

    // The owner's evidence survives a stolen camera: nothing of the owner's was deleted.
    // (The user token's own walk signed its session out: sign in again.)
    let again: Value = app
        .post(
            "/api/v1/auth/sign-in",
            None,
            &json!({"email": owner.email, "password": owner.password}),
        )
        .await
        .json()
        .await
        .unwrap();
    let garden_now = app
        .get(
            &format!("/api/v1/devices/{}", garden.id),
            again["session"]["token"].as_str(),
        )
        .await;
    assert_eq!(garden_now.status(), StatusCode::OK);

    // Nor can the camera send commands over its WebSocket.
    let mut ws = app.connect_device(&camera.token).await;
    ws_send(
        &mut ws,
        &json!({"type": "command.send", "ref": 1, "target_device_id": garden.id,
                "command_type": "play_siren", "payload": {}})
        .to_string(),
    )
    .await;
    let answer = loop {
        let message = ws_next_json(&mut ws).await;
        if message["type"] == "error" {
            break message;
        }
    };
    assert_eq!(answer["code"], "camera_token_not_allowed", "{answer}");
}
