//! Device links: create, list, revoke; linked viewers see the camera's presence.

use reqwest::StatusCode;
use securecam_tests::{
    both_backends, expect_json, expect_problem, item_ids, spawn_app, ws_next_json, ws_send, Backend,
};
use serde_json::json;

both_backends!(create_list_revoke, linked_viewers_see_presence);

async fn create_list_revoke(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let other = app.sign_up("other@example.com").await;
    let camera = app.create_device(&owner.token, "Camera", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let others_phone = app.create_device(&other.token, "Other", "viewer").await;

    let link = expect_json(
        app.post(
            "/api/v1/device-links",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id, "client_device_id": phone.id}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(link["status"], "active");
    assert_eq!(link["owner_user_id"], owner.id.as_str());
    assert_eq!(link["camera_device_id"], camera.id.as_str());
    let link_id = link["id"].as_str().unwrap();

    let again = app
        .post(
            "/api/v1/device-links",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id, "client_device_id": phone.id}),
        )
        .await;
    expect_problem(again, StatusCode::CONFLICT, "link_exists").await;
    let not_camera = app
        .post(
            "/api/v1/device-links",
            Some(&owner.token),
            &json!({"camera_device_id": phone.id, "client_device_id": camera.id}),
        )
        .await;
    expect_problem(not_camera, StatusCode::UNPROCESSABLE_ENTITY, "not_a_camera").await;
    let foreign = app
        .post(
            "/api/v1/device-links",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id, "client_device_id": others_phone.id}),
        )
        .await;
    expect_problem(foreign, StatusCode::NOT_FOUND, "not_found").await;

    let list = expect_json(
        app.get("/api/v1/device-links", Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&list), vec![link_id]);
    let others = expect_json(
        app.get("/api/v1/device-links", Some(&other.token)).await,
        StatusCode::OK,
    )
    .await;
    assert!(item_ids(&others).is_empty());

    let not_theirs = app
        .delete(
            &format!("/api/v1/device-links/{link_id}"),
            Some(&other.token),
        )
        .await;
    expect_problem(not_theirs, StatusCode::NOT_FOUND, "not_found").await;
    let revoked = app
        .delete(
            &format!("/api/v1/device-links/{link_id}"),
            Some(&owner.token),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let twice = app
        .delete(
            &format!("/api/v1/device-links/{link_id}"),
            Some(&owner.token),
        )
        .await;
    expect_problem(twice, StatusCode::NOT_FOUND, "not_found").await;
    let list = expect_json(
        app.get("/api/v1/device-links", Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"][0]["status"], "revoked");
    let actions = app.audit_actions(&owner.token).await;
    assert_eq!(&actions[..2], ["device_link.revoke", "device_link.create"]);
    // A link can be made again once the old one is revoked.
    let relinked = app
        .post(
            "/api/v1/device-links",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id, "client_device_id": phone.id}),
        )
        .await;
    assert_eq!(relinked.status(), StatusCode::CREATED);
}

async fn linked_viewers_see_presence(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Camera", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    expect_json(
        app.post(
            "/api/v1/device-links",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id, "client_device_id": phone.id}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let mut phone_ws = app.ws_connect(Some(&phone.token), "").await.unwrap();
    ws_next_json(&mut phone_ws).await;
    let mut camera_ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    ws_next_json(&mut camera_ws).await;
    // Owner's device and linked viewer at once: told once, not twice.
    assert_eq!(
        ws_next_json(&mut phone_ws).await,
        json!({"type": "presence", "device_id": camera.id, "status": "online"})
    );
    ws_send(&mut phone_ws, r#"{"type":"ping","ref":"after"}"#).await;
    assert_eq!(
        ws_next_json(&mut phone_ws).await,
        json!({"type": "pong", "ref": "after"})
    );
}
