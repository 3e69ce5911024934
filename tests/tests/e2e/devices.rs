//! Devices: create (token once), list, get, patch, delete (token revoked), device tokens.

use reqwest::{Method, StatusCode};
use securecam_tests::{both_backends, expect_json, expect_problem, spawn_app, Backend};
use serde_json::json;

both_backends!(
    create_list_get_patch_delete,
    device_tokens_act_only_for_their_device,
    bad_device_input_is_refused_and_nothing_kept,
    device_lists_are_paginated,
    names_and_titles_refuse_control_and_bidi_characters,
);

/// A NUL breaks clients written in C and logs; an override makes `gpj.exe` read `exe.jpg`.
async fn names_and_titles_refuse_control_and_bidi_characters(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&user.token, "Porch", "camera").await;
    for bad in [
        "nul\u{0}byte",
        "new\nline",
        "evil\u{202E}gpj.exe",
        "iso\u{2066}late",
    ] {
        let create = app
            .post(
                "/api/v1/devices",
                Some(&user.token),
                &json!({"name": bad, "role": "viewer", "platform": "web"}),
            )
            .await;
        expect_problem(
            create,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let rename = app
            .request(
                Method::PATCH,
                &format!("/api/v1/devices/{}", camera.id),
                Some(&user.token),
                Some(&json!({ "name": bad })),
            )
            .await;
        expect_problem(
            rename,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let pairing = app
            .post(
                "/api/v1/pairing-codes",
                None,
                &json!({"name": bad, "platform": "android"}),
            )
            .await;
        expect_problem(
            pairing,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let event = app
            .post(
                "/api/v1/events",
                Some(&camera.token),
                &json!({"triggered_by": "motion", "title": bad}),
            )
            .await;
        assert_eq!(event.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    }
    // Nothing was kept: the camera keeps its name, no device or event was made.
    let me = expect_json(
        app.get(&format!("/api/v1/devices/{}", camera.id), Some(&user.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["name"], "Porch");
    let devices = expect_json(
        app.get("/api/v1/devices", Some(&user.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(devices["items"].as_array().unwrap().len(), 1);
    // Letters of any script and emoji are names like any other.
    let fine = app
        .post(
            "/api/v1/devices",
            Some(&user.token),
            &json!({"name": "Küche – 東京 📷", "role": "viewer", "platform": "web"}),
        )
        .await;
    assert_eq!(fine.status(), StatusCode::CREATED);
}

async fn create_list_get_patch_delete(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("owner@example.com").await;
    let response = app
        .post(
            "/api/v1/devices",
            Some(&user.token),
            &json!({"name": "Porch", "role": "camera", "platform": "android", "app_version": "2.1",
                    "push_provider": "fcm", "push_token": "fcm-registration-token"}),
        )
        .await;
    let body = expect_json(response, StatusCode::CREATED).await;
    let device = &body["device"];
    let id = device["id"].as_str().unwrap().to_string();
    assert_eq!(device["user_id"], user.id.as_str());
    assert_eq!(device["role"], "camera");
    assert_eq!(device["is_camera"], true);
    assert_eq!(device["platform"], "android");
    assert_eq!(device["status"], "offline");
    assert_eq!(device["push_provider"], "fcm");
    assert!(
        device.get("push_token").is_none(),
        "the push token is never returned"
    );
    assert!(body["device_token"].as_str().unwrap().starts_with("scd_"));

    let fetched = expect_json(
        app.get(&format!("/api/v1/devices/{id}"), Some(&user.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched, *device);
    let list = expect_json(
        app.get("/api/v1/devices", Some(&user.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"], json!([device]));
    assert!(list["next_cursor"].is_null());

    let patched = app
        .request(
            Method::PATCH,
            &format!("/api/v1/devices/{id}"),
            Some(&user.token),
            Some(&json!({"name": "Front door", "app_version": null})),
        )
        .await;
    let patched = expect_json(patched, StatusCode::OK).await;
    assert_eq!(patched["name"], "Front door");
    assert!(patched["app_version"].is_null());
    assert_eq!(patched["push_provider"], "fcm", "untouched fields stay");

    let deleted = app
        .delete(&format!("/api/v1/devices/{id}"), Some(&user.token))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app
        .get(&format!("/api/v1/devices/{id}"), Some(&user.token))
        .await;
    expect_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
    let token_after = app
        .get(
            "/api/v1/devices",
            Some(body["device_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        token_after.status(),
        StatusCode::UNAUTHORIZED,
        "deleting a device revokes its token"
    );

    let actions = app.audit_actions(&user.token).await;
    assert_eq!(
        &actions[..3],
        ["device.delete", "device.update", "device.create"]
    );
    let logs = expect_json(
        app.get("/api/v1/audit-logs", Some(&user.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(logs["items"][0]["target_type"], "device");
    assert_eq!(logs["items"][0]["target_id"], id.as_str());
    assert_eq!(
        logs["items"][1]["metadata"]["fields"],
        json!(["name", "app_version"])
    );
}

async fn device_tokens_act_only_for_their_device(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&user.token, "Camera", "camera").await;
    let viewer = app.create_device(&user.token, "Phone", "viewer").await;

    // Itself: yes.
    let me = expect_json(
        app.get(
            &format!("/api/v1/devices/{}", camera.id),
            Some(&camera.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["id"], camera.id.as_str());
    let list = expect_json(
        app.get("/api/v1/devices", Some(&camera.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], camera.id.as_str());
    let patch = app
        .request(
            Method::PATCH,
            &format!("/api/v1/devices/{}", camera.id),
            Some(&camera.token),
            Some(&json!({"push_provider": "webpush",
                         "push_token": "{\"endpoint\":\"https://push.example/x\",\"keys\":{\"p256dh\":\"k\",\"auth\":\"a\"}}"})),
        )
        .await;
    assert_eq!(
        expect_json(patch, StatusCode::OK).await["push_provider"],
        "webpush"
    );

    // A sibling device of the same owner: not through a device token.
    let sibling = app
        .get(
            &format!("/api/v1/devices/{}", viewer.id),
            Some(&camera.token),
        )
        .await;
    expect_problem(sibling, StatusCode::NOT_FOUND, "not_found").await;
    let sibling_delete = app
        .delete(
            &format!("/api/v1/devices/{}", viewer.id),
            Some(&camera.token),
        )
        .await;
    expect_problem(
        sibling_delete,
        StatusCode::FORBIDDEN,
        "camera_token_not_allowed",
    )
    .await;

    // Account endpoints need a user token; a camera's token is not even a viewer's.
    for path in [
        "/api/v1/auth/session",
        "/api/v1/auth/sessions",
        "/api/v1/audit-logs",
    ] {
        let response = app.get(path, Some(&camera.token)).await;
        expect_problem(response, StatusCode::FORBIDDEN, "camera_token_not_allowed").await;
        let response = app.get(path, Some(&viewer.token)).await;
        expect_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let create = app
        .post(
            "/api/v1/devices",
            Some(&camera.token),
            &json!({"name": "x", "role": "camera", "platform": "web"}),
        )
        .await;
    expect_problem(create, StatusCode::FORBIDDEN, "camera_token_not_allowed").await;

    let logs = expect_json(
        app.get("/api/v1/audit-logs", Some(&user.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(logs["items"][0]["action"], "device.update");
    assert_eq!(
        logs["items"][0]["actor_device_id"],
        camera.id.as_str(),
        "the device's own update names it as actor"
    );

    // A camera deletes nothing, not even itself (a thief would unpair it to hide): the
    // owner removes it. A viewing device may unpair itself; its token dies with it.
    expect_problem(
        app.delete(
            &format!("/api/v1/devices/{}", camera.id),
            Some(&camera.token),
        )
        .await,
        StatusCode::FORBIDDEN,
        "camera_token_not_allowed",
    )
    .await;
    assert_eq!(
        app.delete(
            &format!("/api/v1/devices/{}", viewer.id),
            Some(&viewer.token)
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get("/api/v1/devices", Some(&viewer.token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.audit_actions(&user.token).await[0], "device.delete");
}

async fn bad_device_input_is_refused_and_nothing_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("owner@example.com").await;
    let cases = [
        (
            json!({"name": "", "role": "camera", "platform": "android"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "role": "toaster", "platform": "android"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "role": "camera", "platform": "symbian"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "role": "camera"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "role": "camera", "platform": "ios", "push_token": "t"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x", "role": "camera", "platform": "web", "push_provider": "webpush", "push_token": "not json"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x".repeat(201), "role": "camera", "platform": "ios"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!(["not", "an", "object"]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, status) in cases {
        let response = app.post("/api/v1/devices", Some(&user.token), &body).await;
        assert_eq!(response.status(), status, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let list = expect_json(
        app.get("/api/v1/devices", Some(&user.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        list["items"],
        json!([]),
        "no failed request left a device behind"
    );

    let device = app.create_device(&user.token, "Cam", "camera").await;
    let bad_patch = app
        .request(
            Method::PATCH,
            &format!("/api/v1/devices/{}", device.id),
            Some(&user.token),
            Some(&json!({"push_token": "t"})),
        )
        .await;
    expect_problem(
        bad_patch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let unchanged = expect_json(
        app.get(&format!("/api/v1/devices/{}", device.id), Some(&user.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged, device.body);

    let not_uuid = app
        .get("/api/v1/devices/not-a-uuid", Some(&user.token))
        .await;
    expect_problem(not_uuid, StatusCode::NOT_FOUND, "not_found").await;
}

async fn device_lists_are_paginated(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("owner@example.com").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            app.create_device(&user.token, &format!("cam {i}"), "camera")
                .await
                .id,
        );
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/devices?limit=3&cursor={c}"),
            None => "/api/v1/devices?limit=3".to_string(),
        };
        let page = expect_json(app.get(&path, Some(&user.token)).await, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every device once, newest first");
}
