//! Events end to end: a camera reports over the WebSocket and REST; the owner's and linked
//! viewers' devices hear of it at once, other owners never; notifications and push
//! deliveries are queued; ending and acknowledging; every bad input.

use std::time::Duration;

use reqwest::StatusCode;
use securecam_tests::{
    both_backends, expect_json, expect_problem, item_ids, spawn_app, ws_expect_none_of_type,
    ws_next_of_type, ws_send, Backend, TestApp,
};
use serde_json::{json, Value};

both_backends!(
    events_reach_the_owner_and_linked_viewers_only,
    reporting_over_rest_and_bad_input
);

/// A device created with a push token, as a phone app registers itself.
async fn push_device(app: &TestApp, user_token: &str, name: &str, role: &str) -> (String, String) {
    let created = expect_json(
        app.post(
            "/api/v1/devices",
            Some(user_token),
            &json!({"name": name, "role": role, "platform": "android",
                    "push_provider": "fcm", "push_token": format!("fcm-{name}")}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    (
        created["device"]["id"].as_str().unwrap().to_string(),
        created["device_token"].as_str().unwrap().to_string(),
    )
}

async fn events_reach_the_owner_and_linked_viewers_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let friend = app.sign_up("friend@example.com").await;
    let stranger = app.sign_up("stranger@example.com").await;
    let (camera_id, camera_token) = push_device(&app, &owner.token, "Door", "camera").await;
    let (phone_id, phone_token) = push_device(&app, &owner.token, "Phone", "viewer").await;
    let (friends_phone_id, friends_phone_token) =
        push_device(&app, &friend.token, "FriendPhone", "viewer").await;
    let strangers_phone = app
        .create_device(&stranger.token, "StrangerPhone", "viewer")
        .await;

    // Before the friend is linked: an event the friend will never see.
    let mut camera_ws = app.connect_device(&camera_token).await;
    ws_send(
        &mut camera_ws,
        &json!({"type": "event.start", "ref": 0, "triggered_by": "sound"}).to_string(),
    )
    .await;
    let earlier = ws_next_of_type(&mut camera_ws, "event.started").await["event"].clone();

    let invite = expect_json(
        app.post(
            "/api/v1/device-links/invites",
            Some(&owner.token),
            &json!({"camera_device_id": camera_id}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        app.post(
            "/api/v1/device-links/invites/accept",
            Some(&friend.token),
            &json!({"code": invite["code"], "client_device_id": friends_phone_id}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    let mut phone_ws = app.connect_device(&phone_token).await;
    let mut friend_ws = app.connect_device(&friends_phone_token).await;
    let mut stranger_ws = app.connect_device(&strangers_phone.token).await;

    ws_send(
        &mut camera_ws,
        &json!({"type": "event.start", "ref": "e1", "triggered_by": "person", "title": "Someone at the door"})
            .to_string(),
    )
    .await;
    let started = ws_next_of_type(&mut camera_ws, "event.started").await;
    assert_eq!(started["ref"], "e1");
    let event = started["event"].clone();
    assert_eq!(event["status"], "active");
    assert_eq!(event["triggered_by"], "person");
    assert_eq!(event["title"], "Someone at the door");
    assert_eq!(event["device_id"], camera_id.as_str());
    assert_eq!(event["user_id"], owner.id.as_str());
    assert!(event["notified_at"].is_string());
    let id = event["id"].as_str().unwrap().to_string();

    for ws in [&mut phone_ws, &mut friend_ws] {
        let created = ws_next_of_type(ws, "event.created").await;
        assert_eq!(created["event"], event);
    }
    ws_expect_none_of_type(
        &mut stranger_ws,
        "event.created",
        Duration::from_millis(300),
    )
    .await;

    // A notification per user and a push delivery per device with a push token; never the
    // camera itself.
    let deliveries = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    let to: Vec<&str> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "event")
        .map(|d| d["recipient_device_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        to,
        vec![phone_id.as_str(), phone_id.as_str()],
        "one push per event to the owner's phone"
    );
    let friends = expect_json(
        app.get("/api/v1/notification-deliveries", Some(&friend.token))
            .await,
        StatusCode::OK,
    )
    .await;
    let friend_items = friends["items"].as_array().unwrap();
    assert_eq!(
        friend_items.len(),
        1,
        "only the event after the link: {friends}"
    );
    assert_eq!(
        friend_items[0]["recipient_device_id"],
        friends_phone_id.as_str()
    );
    assert!(friend_items[0]["notification_id"].is_string());

    // Reading: the owner sees both events, the friend only the one since the link; the
    // stranger nothing.
    let owners = expect_json(
        app.get("/api/v1/events", Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        item_ids(&owners),
        vec![id.as_str(), earlier["id"].as_str().unwrap()]
    );
    let friends = expect_json(
        app.get("/api/v1/events", Some(&friend.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&friends), vec![id.as_str()]);
    let by_device = expect_json(
        app.get("/api/v1/events", Some(&friends_phone_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&by_device), vec![id.as_str()]);
    let strangers = expect_json(
        app.get("/api/v1/events", Some(&stranger.token)).await,
        StatusCode::OK,
    )
    .await;
    assert!(item_ids(&strangers).is_empty());
    let one = expect_json(
        app.get(&format!("/api/v1/events/{id}"), Some(&friend.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["id"], id.as_str());
    // The event started its clip (the camera is not publishing: it waits for it).
    let clips = one["recordings"].as_array().unwrap();
    assert_eq!(clips.len(), 1, "{one}");
    assert_eq!(clips[0]["event_id"], id.as_str());
    assert_eq!(clips[0]["status"], "recording");
    assert_eq!(clips[0]["playback_url"], Value::Null);
    expect_problem(
        app.get(
            &format!("/api/v1/events/{}", earlier["id"].as_str().unwrap()),
            Some(&friend.token),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get(&format!("/api/v1/events/{id}"), Some(&stranger.token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.post(
            &format!("/api/v1/events/{id}/acknowledge"),
            Some(&stranger.token),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Filters.
    let path = |query: &str| format!("/api/v1/events?{query}");
    let active = expect_json(
        app.get(&path("status=active"), Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&active).len(), 2);
    let by_camera = expect_json(
        app.get(
            &path(&format!("camera_device_id={camera_id}")),
            Some(&owner.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&by_camera).len(), 2);
    let other_camera = expect_json(
        app.get(
            &path(&format!("camera_device_id={phone_id}")),
            Some(&owner.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(item_ids(&other_camera).is_empty());
    let started_at = event["started_at"].as_str().unwrap().replace('+', "%2B");
    let since = expect_json(
        app.get(&path(&format!("since={started_at}")), Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&since), vec![id.as_str()]);
    let until = expect_json(
        app.get(&path(&format!("until={started_at}")), Some(&owner.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&until), vec![earlier["id"].as_str().unwrap()]);
    expect_problem(
        app.get(&path("since=yesterday"), Some(&owner.token)).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;

    // The camera ends it; viewers hear; ending again changes nothing.
    ws_send(
        &mut camera_ws,
        &json!({"type": "event.end", "ref": "x", "event_id": id}).to_string(),
    )
    .await;
    let ended = ws_next_of_type(&mut camera_ws, "event.ended").await;
    assert_eq!(ended["ref"], "x");
    assert_eq!(ended["event"]["status"], "ended");
    assert!(ended["event"]["ended_at"].is_string());
    for ws in [&mut phone_ws, &mut friend_ws] {
        assert_eq!(
            ws_next_of_type(ws, "event.updated").await["event"]["status"],
            "ended"
        );
    }
    let again = expect_json(
        app.post(
            &format!("/api/v1/events/{id}/end"),
            Some(&camera_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again, ended["event"]);

    // The friend acknowledges it; the owner's phone hears.
    let acknowledged = expect_json(
        app.post(
            &format!("/api/v1/events/{id}/acknowledge"),
            Some(&friend.token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(acknowledged["status"], "acknowledged");
    assert!(acknowledged["acknowledged_at"].is_string());
    assert_eq!(
        ws_next_of_type(&mut phone_ws, "event.updated").await["event"]["status"],
        "acknowledged"
    );
    ws_expect_none_of_type(
        &mut stranger_ws,
        "event.updated",
        Duration::from_millis(200),
    )
    .await;
}

async fn reporting_over_rest_and_bad_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Door", "camera").await;
    let other_camera = app.create_device(&owner.token, "Garden", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;

    let created = expect_json(
        app.post(
            "/api/v1/events",
            Some(&camera.token),
            &json!({"triggered_by": "motion"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["event"]
        .clone();
    assert_eq!(created["title"], "Motion detected");
    let id = created["id"].as_str().unwrap();

    let two_days_ago = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            &owner.token,
            json!({"triggered_by": "motion"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &phone.token,
            json!({"triggered_by": "motion"}),
            StatusCode::FORBIDDEN,
            "not_a_camera",
        ),
        (
            &camera.token,
            json!({"triggered_by": "earthquake"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            &camera.token,
            json!({"triggered_by": "motion", "title": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            &camera.token,
            json!({"triggered_by": "motion", "title": "x".repeat(201)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            &camera.token,
            json!({"triggered_by": "motion", "started_at": two_days_ago}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            &camera.token,
            json!({"triggered_by": "motion", "started_at": in_an_hour}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ];
    for (token, body, status, code) in cases {
        let response = app.post("/api/v1/events", Some(token), &body).await;
        let problem = response.status();
        assert_eq!(problem, status, "{body}");
        if status != StatusCode::UNPROCESSABLE_ENTITY || code != "validation_failed" {
            expect_problem(response, status, code).await;
        }
    }
    let list = expect_json(
        app.get("/api/v1/events", Some(&owner.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_ids(&list), vec![id], "nothing else was stored");

    // Ending: only the camera that reported it, not before it started.
    expect_problem(
        end(&app, id, &other_camera.token, json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        end(&app, id, &owner.token, json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let before_start = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    expect_problem(
        end(&app, id, &camera.token, json!({"ended_at": before_start})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let no_body = app
        .client
        .post(app.url(&format!("/api/v1/events/{id}/end")))
        .bearer_auth(&camera.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(no_body, StatusCode::OK).await["status"],
        "ended"
    );

    // Over the WebSocket: errors with the ref, the connection stays.
    let mut ws = app.connect_device(&phone.token).await;
    ws_send(
        &mut ws,
        &json!({"type": "event.start", "ref": 1, "triggered_by": "motion"}).to_string(),
    )
    .await;
    let error = ws_next_of_type(&mut ws, "error").await;
    assert_eq!(
        (error["code"].as_str(), error["ref"].as_i64()),
        (Some("not_a_camera"), Some(1))
    );
    let mut ws = app.connect_device(&camera.token).await;
    for (frame, code) in [
        (
            json!({"type": "event.start", "ref": 2, "triggered_by": "nope"}),
            "invalid_message",
        ),
        (
            json!({"type": "event.end", "ref": 3, "event_id": uuid::Uuid::now_v7()}),
            "not_found",
        ),
        (json!({"type": "event.end", "ref": 4}), "invalid_message"),
    ] {
        ws_send(&mut ws, &frame.to_string()).await;
        let error = ws_next_of_type(&mut ws, "error").await;
        assert_eq!(error["code"], code, "{frame}");
        assert_eq!(error["ref"], frame["ref"]);
    }
    ws_send(&mut ws, r#"{"type":"ping","ref":"alive"}"#).await;
    assert_eq!(ws_next_of_type(&mut ws, "pong").await["ref"], "alive");
}

async fn end(app: &TestApp, id: &str, token: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/events/{id}/end"), Some(token), &body)
        .await
}
