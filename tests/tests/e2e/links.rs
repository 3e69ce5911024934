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

both_backends!(sharing_by_invite);

async fn sharing_by_invite(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let friend = app.sign_up("friend@example.com").await;
    let camera = app.create_device(&owner.token, "Garden", "camera").await;
    let owner_phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let friend_phone = app
        .create_device(&friend.token, "Friend's phone", "viewer")
        .await;

    let not_camera = app
        .post(
            "/api/v1/device-links/invites",
            Some(&owner.token),
            &json!({"camera_device_id": owner_phone.id}),
        )
        .await;
    expect_problem(not_camera, StatusCode::UNPROCESSABLE_ENTITY, "not_a_camera").await;
    let not_theirs = app
        .post(
            "/api/v1/device-links/invites",
            Some(&friend.token),
            &json!({"camera_device_id": camera.id}),
        )
        .await;
    expect_problem(not_theirs, StatusCode::NOT_FOUND, "not_found").await;

    let invite = expect_json(
        app.post(
            "/api/v1/device-links/invites",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let code = invite["code"].as_str().unwrap().to_string();
    assert!(invite["invite_url"].as_str().unwrap().ends_with(&code));

    // The friend cannot attach someone else's device.
    let wrong_device = app
        .post(
            "/api/v1/device-links/invites/accept",
            Some(&friend.token),
            &json!({"code": code, "client_device_id": owner_phone.id}),
        )
        .await;
    expect_problem(wrong_device, StatusCode::NOT_FOUND, "invite_not_found").await;
    let link = expect_json(
        app.post(
            "/api/v1/device-links/invites/accept",
            Some(&friend.token),
            &json!({"code": code, "client_device_id": friend_phone.id}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(link["owner_user_id"], owner.id.as_str());
    assert_eq!(link["client_device_id"], friend_phone.id.as_str());
    let reused = app
        .post(
            "/api/v1/device-links/invites/accept",
            Some(&friend.token),
            &json!({"code": code, "client_device_id": friend_phone.id}),
        )
        .await;
    expect_problem(reused, StatusCode::GONE, "invite_gone").await;
    let unknown = app
        .post(
            "/api/v1/device-links/invites/accept",
            Some(&friend.token),
            &json!({"code": "sci_unknown", "client_device_id": friend_phone.id}),
        )
        .await;
    expect_problem(unknown, StatusCode::NOT_FOUND, "invite_not_found").await;

    // Both see the link; the friend's phone hears the camera come online; the owner's trail
    // records the sharing.
    let friends = expect_json(
        app.get("/api/v1/device-links", Some(&friend.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&friends), vec![link["id"].as_str().unwrap()]);
    let mut friend_ws = app.ws_connect(Some(&friend_phone.token), "").await.unwrap();
    ws_next_json(&mut friend_ws).await;
    let mut camera_ws = app.ws_connect(Some(&camera.token), "").await.unwrap();
    ws_next_json(&mut camera_ws).await;
    assert_eq!(
        ws_next_json(&mut friend_ws).await,
        json!({"type": "presence", "device_id": camera.id, "status": "online"})
    );
    let actions = app.audit_actions(&owner.token).await;
    assert_eq!(
        &actions[..2],
        ["device_link.invite_accept", "device_link.invite"]
    );

    // The friend may look at the shared camera (its name, that it is online), not change it;
    // the owner's other devices stay hidden, and so does the camera from anyone else.
    let camera_path = format!("/api/v1/devices/{}", camera.id);
    let shared = expect_json(
        app.get(&camera_path, Some(&friend.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shared["name"], "Garden");
    assert_eq!(shared["status"], "online");
    assert!(shared.get("push_token").is_none());
    let rename = app
        .request(
            reqwest::Method::PATCH,
            &camera_path,
            Some(&friend.token),
            Some(&json!({"name": "Mine now"})),
        )
        .await;
    expect_problem(rename, StatusCode::NOT_FOUND, "not_found").await;
    let delete = app.delete(&camera_path, Some(&friend.token)).await;
    expect_problem(delete, StatusCode::NOT_FOUND, "not_found").await;
    let owner_phone_path = format!("/api/v1/devices/{}", owner_phone.id);
    expect_problem(
        app.get(&owner_phone_path, Some(&friend.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let stranger = app.sign_up("stranger@example.com").await;
    expect_problem(
        app.get(&camera_path, Some(&stranger.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // The friend may end their access; then they hear nothing more of the camera.
    let revoke = app
        .delete(
            &format!("/api/v1/device-links/{}", link["id"].as_str().unwrap()),
            Some(&friend.token),
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get(&camera_path, Some(&friend.token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    camera_ws.close(None).await.unwrap();
    // Wait until the camera's going offline has been handled (and would have been told).
    for _ in 0..100 {
        let device = expect_json(
            app.get(
                &format!("/api/v1/devices/{}", camera.id),
                Some(&owner.token),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        if device["status"] == "offline" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    ws_send(&mut friend_ws, r#"{"type":"ping","ref":"last"}"#).await;
    assert_eq!(
        ws_next_json(&mut friend_ws).await,
        json!({"type": "pong", "ref": "last"})
    );
}
