//! The notification API: the list of what a user was told and reading it, preferences (and
//! what they hold back), webhook endpoints — every bad input a clear problem, nothing of
//! another owner's reachable.

use reqwest::{Method, StatusCode};
use securecam_tests::{
    both_backends, expect_json, expect_problem, item_ids, spawn_app, Backend, TestApp,
};
use serde_json::{json, Value};

both_backends!(
    notifications_are_listed_and_read,
    preferences_are_validated_and_hold_pushes_back,
    webhook_endpoints_are_validated_owned_and_audited,
);

async fn put_preferences(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.request(
        Method::PUT,
        "/api/v1/notification-preferences",
        Some(token),
        Some(body),
    )
    .await
}

async fn phone_with_token(app: &TestApp, token: &str, name: &str) -> String {
    expect_json(
        app.post(
            "/api/v1/devices",
            Some(token),
            &json!({"name": name, "role": "viewer", "platform": "android",
                    "push_provider": "fcm", "push_token": format!("fcm-{name}")}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["device"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn report(app: &TestApp, camera_token: &str) -> String {
    expect_json(
        app.post(
            "/api/v1/events",
            Some(camera_token),
            &json!({"triggered_by": "person", "title": "Person at the door"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["event"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn notifications_are_listed_and_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@notes.test").await;
    let other = app.sign_up("other@notes.test").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let first = report(&app, &camera.token).await;
    let second = report(&app, &camera.token).await;

    let all = expect_json(
        app.get("/api/v1/notifications", Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["event_id"], second.as_str());
    assert_eq!(items[1]["event_id"], first.as_str());
    assert_eq!(items[0]["camera_device_id"], camera.id.as_str());
    assert_eq!(items[0]["title"], "Person at the door");
    assert_eq!(items[0]["triggered_by"], "person");
    assert_eq!(items[0]["is_read"], false);
    // The owner has no device to push to: told in the app only.
    assert_eq!(items[0]["status"], "in_app");
    assert!(items[0]["suppressed_reason"].is_null());
    let second_note = items[0]["id"].as_str().unwrap().to_string();

    // Paginated like every list.
    let page = expect_json(
        app.get("/api/v1/notifications?limit=1", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&page), vec![second_note.as_str()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = expect_json(
        app.get(
            &format!("/api/v1/notifications?limit=1&cursor={cursor}"),
            Some(&owner.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next["items"][0]["event_id"], first.as_str());

    // Read once by its user; another user's id is 404, like one that does not exist.
    let path = format!("/api/v1/notifications/{second_note}/read");
    expect_problem(
        app.post(&path, Some(&other.token), &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.post(
            "/api/v1/notifications/not-an-id/read",
            Some(&owner.token),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let read = expect_json(
        app.post(&path, Some(&owner.token), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["is_read"], true);
    let again = expect_json(
        app.post(&path, Some(&owner.token), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again, read);
    let unread = expect_json(
        app.get("/api/v1/notifications?unread=true", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 1);
    assert_eq!(unread["items"][0]["event_id"], first.as_str());
    expect_problem(
        app.get("/api/v1/notifications?unread=maybe", Some(&owner.token))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    expect_problem(
        app.get("/api/v1/notifications", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let others = expect_json(
        app.get("/api/v1/notifications", Some(&other.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(others["items"], json!([]));
}

async fn preferences_are_validated_and_hold_pushes_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@prefs.test").await;
    let other = app.sign_up("other@prefs.test").await;
    let camera = app.create_device(&owner.token, "Porch", "camera").await;
    let others_camera = app.create_device(&other.token, "Theirs", "camera").await;
    let phone = phone_with_token(&app, &owner.token, "phone").await;

    let defaults = expect_json(
        app.get("/api/v1/notification-preferences", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        defaults,
        json!({"quiet_hours": null, "muted_camera_ids": [], "cooldown_seconds": 0})
    );

    // Bad input: each a problem that says what is wrong; nothing stored.
    for (body, code) in [
        (
            json!({"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}}),
            "validation_failed",
        ),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "22:00", "timezone": "UTC"}}),
            "validation_failed",
        ),
        (
            json!({"quiet_hours": {"start": "9pm", "end": "07:00", "timezone": "UTC"}}),
            "validation_failed",
        ),
        (json!({"cooldown_seconds": 100000}), "validation_failed"),
        (json!({"cooldown_seconds": -1}), "invalid_body"),
        (
            json!({"muted_camera_ids": [others_camera.id]}),
            "validation_failed",
        ),
        (
            json!({"muted_camera_ids": [uuid::Uuid::now_v7()]}),
            "validation_failed",
        ),
        (json!({"muted_camera_ids": [phone]}), "validation_failed"),
        (json!({"mute_everything": true}), "invalid_body"),
    ] {
        let problem = expect_problem(
            put_preferences(&app, &owner.token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{body}");
    }
    // The other owner's camera is refused exactly as one that does not exist.
    let theirs = expect_problem(
        put_preferences(
            &app,
            &owner.token,
            &json!({"muted_camera_ids": [others_camera.id]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let nobody = expect_problem(
        put_preferences(
            &app,
            &owner.token,
            &json!({"muted_camera_ids": [unknown_id]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        theirs["detail"]
            .as_str()
            .unwrap()
            .replace(&others_camera.id, "?"),
        nobody["detail"].as_str().unwrap().replace(&unknown_id, "?")
    );

    // Muting the camera: its events are listed, but no push goes to the phone.
    let muted = json!({"quiet_hours": {"start": "23:00", "end": "06:30", "timezone": "Europe/Riga"},
                       "muted_camera_ids": [camera.id], "cooldown_seconds": 120});
    let stored = expect_json(
        put_preferences(&app, &owner.token, &muted).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stored, muted);
    assert_eq!(
        expect_json(
            app.get("/api/v1/notification-preferences", Some(&owner.token))
                .await,
            StatusCode::OK
        )
        .await,
        muted
    );
    assert_eq!(
        expect_json(
            app.get("/api/v1/notification-preferences", Some(&other.token))
                .await,
            StatusCode::OK
        )
        .await,
        defaults,
        "preferences are per user"
    );
    let event = report(&app, &camera.token).await;
    let notes = expect_json(
        app.get("/api/v1/notifications", Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(notes["items"][0]["event_id"], event.as_str());
    assert_eq!(notes["items"][0]["status"], "suppressed");
    assert_eq!(notes["items"][0]["suppressed_reason"], "muted_camera");
    let deliveries = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        deliveries["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["recipient_device_id"] != phone.as_str()),
        "no push to the phone: {deliveries}"
    );
    assert!(app
        .audit_actions(&owner.token)
        .await
        .contains(&"notification_preferences.update".to_string()));

    // Unmuted: the next event pushes to the phone.
    expect_json(
        put_preferences(&app, &owner.token, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    report(&app, &camera.token).await;
    let deliveries = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["recipient_device_id"] == phone.as_str() && d["type"] == "event"));
}

async fn webhook_endpoints_are_validated_owned_and_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@hooks.test").await;
    let other = app.sign_up("other@hooks.test").await;
    let camera = app.create_device(&owner.token, "Yard", "camera").await;

    for (body, code) in [
        (
            json!({"url": "http://hooks.example.com/x", "events": ["event.created"]}),
            "validation_failed",
        ),
        (
            json!({"url": "https://127.0.0.1/x", "events": ["event.created"]}),
            "validation_failed",
        ),
        (
            json!({"url": "https://[::1]/x", "events": ["event.created"]}),
            "validation_failed",
        ),
        (
            json!({"url": "https://169.254.169.254/latest", "events": ["event.created"]}),
            "validation_failed",
        ),
        (
            json!({"url": "https://user:pw@hooks.example.com/x", "events": ["event.created"]}),
            "validation_failed",
        ),
        (
            json!({"url": "not a url", "events": ["event.created"]}),
            "validation_failed",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": []}),
            "validation_failed",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["everything"]}),
            "invalid_body",
        ),
        (
            json!({"url": "https://hooks.example.com/x"}),
            "invalid_body",
        ),
    ] {
        expect_problem(
            app.post("/api/v1/webhooks", Some(&owner.token), &body)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
    }
    expect_problem(
        app.post(
            "/api/v1/webhooks",
            Some(&camera.token),
            &json!({"url": "https://hooks.example.com/x", "events": ["event.created"]}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "camera_token_not_allowed",
    )
    .await;

    let created = expect_json(
        app.post(
            "/api/v1/webhooks",
            Some(&owner.token),
            &json!({"url": "https://hooks.example.com/yard",
                    "events": ["recording.available", "event.created", "event.created"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["url"], "https://hooks.example.com/yard");
    assert_eq!(
        created["events"],
        json!(["event.created", "recording.available"])
    );
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert!(secret.len() >= 6 + 43, "32 random bytes");

    // The secret is shown once.
    let listed = expect_json(
        app.get("/api/v1/webhooks", Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&listed), vec![id]);
    assert!(listed["items"][0].get("secret").is_none());
    let shown = expect_json(
        app.get(&format!("/api/v1/webhooks/{id}"), Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(shown.get("secret").is_none());
    assert_eq!(shown["enabled"], true);
    assert!(!listed.to_string().contains(secret));

    // Another owner sees nothing of it and cannot delete it.
    let theirs = expect_json(
        app.get("/api/v1/webhooks", Some(&other.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(theirs["items"], json!([]));
    for method in [Method::GET, Method::DELETE] {
        expect_problem(
            app.request(
                method,
                &format!("/api/v1/webhooks/{id}"),
                Some(&other.token),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }

    // An event queues a signed delivery to it.
    let event = report(&app, &camera.token).await;
    let deliveries = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    let job = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "webhook")
        .unwrap_or_else(|| panic!("a webhook job: {deliveries}"));
    assert_eq!(job["webhook_endpoint_id"], id);
    assert!(!event.is_empty());

    // At most 20 endpoints.
    for n in 1..20 {
        expect_json(
            app.post(
                "/api/v1/webhooks",
                Some(&owner.token),
                &json!({"url": format!("https://hooks.example.com/{n}"), "events": ["device.online"]}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    expect_problem(
        app.post(
            "/api/v1/webhooks",
            Some(&owner.token),
            &json!({"url": "https://hooks.example.com/21", "events": ["device.online"]}),
        )
        .await,
        StatusCode::CONFLICT,
        "too_many_webhooks",
    )
    .await;

    // Deleted: gone, its waiting jobs with it, and audited.
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            Some(&owner.token),
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get(&format!("/api/v1/webhooks/{id}"), Some(&owner.token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let deliveries = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["webhook_endpoint_id"] != id));
    let audit = app.audit_actions(&owner.token).await;
    assert_eq!(audit.iter().filter(|a| *a == "webhook.create").count(), 20);
    assert_eq!(audit.iter().filter(|a| *a == "webhook.delete").count(), 1);
}
