//! Owner isolation: every endpoint that takes an id, walked with a second user's token and
//! the first user's ids, answers 404 — exactly as for an id that does not exist — and
//! changes nothing. Lists never show another owner's rows.

use reqwest::{Method, StatusCode};
use securecam_signal::auth::rights::{camera_access, CameraAccess};
use securecam_tests::{both_backends, expect_json, expect_problem, item_ids, spawn_app, Backend};
use serde_json::json;

both_backends!(another_owners_ids_are_404_everywhere);

async fn another_owners_ids_are_404_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.sign_up("alice@example.com").await;
    let bob = app.sign_up("bob@example.com").await;
    let alice_camera = app
        .create_device(&alice.token, "Alice's camera", "camera")
        .await;
    let bob_camera = app
        .create_device(&bob.token, "Bob's camera", "camera")
        .await;
    let bob_phone = app.create_device(&bob.token, "Bob's phone", "viewer").await;
    let alice_session = expect_json(
        app.get("/api/v1/auth/session", Some(&alice.token)).await,
        StatusCode::OK,
    )
    .await["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_phone = app
        .create_device(&alice.token, "Alice's phone", "viewer")
        .await;
    let alice_link = expect_json(
        app.post(
            "/api/v1/device-links",
            Some(&alice.token),
            &json!({"camera_device_id": alice_camera.id, "client_device_id": alice_phone.id}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_command = expect_json(
        app.post(
            &format!("/api/v1/devices/{}/commands", alice_camera.id),
            Some(&alice.token),
            &json!({"command_type": "ping"}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await["command"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_event = expect_json(
        app.post(
            "/api/v1/events",
            Some(&alice_camera.token),
            &json!({"triggered_by": "motion"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_stream = expect_json(
        app.post(
            "/api/v1/stream-sessions",
            Some(&alice.token),
            &json!({"camera_device_id": alice_camera.id, "requester_device_id": alice_phone.id,
                    "reason": "live_view"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A clip of Alice's camera, as the recorder leaves one.
    let alice_recording = securecam_storage::new_id();
    let alice_id = uuid::Uuid::parse_str(&alice.id).unwrap();
    app.db
        .create_recording(
            securecam_storage::NewRecording {
                id: alice_recording,
                owner_user_id: alice_id,
                stream_session_id: None,
                camera_device_id: Some(uuid::Uuid::parse_str(&alice_camera.id).unwrap()),
                requester_device_id: None,
                event_id: Some(uuid::Uuid::parse_str(&alice_event).unwrap()),
                object_key: format!("clips/{alice_id}/{alice_recording}.mp4"),
                bucket: "local".into(),
                content_type: "video/mp4".into(),
                source: securecam_storage::RecordingSource::Recorder,
                size_bytes: None,
                duration_seconds: None,
            },
            securecam_storage::now(),
        )
        .await
        .unwrap();
    app.db
        .finish_recording(
            alice_recording,
            securecam_storage::RecordingResult::Available {
                duration_seconds: 10.0,
                size_bytes: 1000,
            },
            securecam_storage::now(),
        )
        .await
        .unwrap();
    let alice_recording = alice_recording.to_string();
    let alice_notification = expect_json(
        app.get("/api/v1/notifications", Some(&alice.token)).await,
        StatusCode::OK,
    )
    .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_webhook = expect_json(
        app.post(
            "/api/v1/webhooks",
            Some(&alice.token),
            &json!({"url": "https://hooks.example.com/alice", "events": ["event.created"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unknown = uuid::Uuid::now_v7().to_string();

    // Every endpoint with an id in its path, taken from the served OpenAPI document so that
    // a new endpoint cannot be forgotten here. Each id names a resource kind by its path.
    let spec = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    let alice_ids = |path: &str| -> String {
        if path.starts_with("/api/v1/devices/{id}") {
            alice_camera.id.clone()
        } else if path.starts_with("/api/v1/auth/sessions/{id}") {
            alice_session.clone()
        } else if path.starts_with("/api/v1/device-links/{id}") {
            alice_link.clone()
        } else if path.starts_with("/api/v1/commands/{id}") {
            alice_command.clone()
        } else if path.starts_with("/api/v1/events/{id}") {
            alice_event.clone()
        } else if path.starts_with("/api/v1/stream-sessions/{id}") {
            alice_stream.clone()
        } else if path.starts_with("/api/v1/recordings/{id}") {
            alice_recording.clone()
        } else if path.starts_with("/api/v1/notifications/{id}") {
            alice_notification.clone()
        } else if path.starts_with("/api/v1/webhooks/{id}") {
            alice_webhook.clone()
        } else {
            panic!("{path}: which of Alice's resources does its id name? Add it to this test.")
        }
    };
    let mut walked = 0;
    for (template, operations) in spec["paths"].as_object().unwrap() {
        if !template.contains('{') {
            continue;
        }
        for method in operations.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            // A body the endpoint would accept, so that only the id can make it fail.
            let body = match (&method, template.as_str()) {
                (&Method::POST, "/api/v1/devices/{id}/commands") => {
                    Some(json!({"command_type": "play_siren", "payload": {"seconds": 60}}))
                }
                (&Method::POST, "/api/v1/events/{id}/end") => Some(json!({})),
                (&Method::PATCH | &Method::PUT | &Method::POST, _) => {
                    Some(json!({"name": "pwned"}))
                }
                _ => None,
            };
            // Endpoints that take user tokens only refuse device tokens (403) before
            // looking at any id.
            let user_only = [
                "/api/v1/auth/",
                "/api/v1/device-links/",
                "/api/v1/notifications/",
                "/api/v1/webhooks/",
            ]
            .iter()
            .any(|prefix| template.starts_with(prefix));
            // Endpoints for cameras only refuse user and viewer tokens (403) the same way.
            let device_only = [
                "/api/v1/events/{id}/end",
                "/api/v1/recordings/{id}/complete",
            ]
            .contains(&template.as_str());
            for (who, token) in [
                ("bob's user token", &bob.token),
                ("bob's device token", &bob_phone.token),
                ("bob's camera token", &bob_camera.token),
            ] {
                for id in [alice_ids(template), unknown.clone()] {
                    let path = template.replace("{id}", &id);
                    let response = app
                        .request(method.clone(), &path, Some(token), body.as_ref())
                        .await;
                    // A camera's token may not use most routes at all: the same 403 for
                    // every id, Alice's or nobody's, so it tells nothing either.
                    if who.contains("camera")
                        && camera_access(&method, template, &path, &bob_camera.id)
                            == CameraAccess::NotAllowed
                    {
                        expect_problem(response, StatusCode::FORBIDDEN, "camera_token_not_allowed")
                            .await;
                        continue;
                    }
                    if device_only && !who.contains("camera") {
                        // A viewing device may also just not find a camera's event.
                        let refused = [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND];
                        assert!(
                            refused.contains(&response.status())
                                && (who.contains("device")
                                    || response.status() == StatusCode::FORBIDDEN),
                            "{method} {path} as {who}: {}",
                            response.status()
                        );
                        continue;
                    }
                    if user_only && !who.contains("user") {
                        assert_eq!(
                            response.status(),
                            StatusCode::FORBIDDEN,
                            "{method} {path} as {who}"
                        );
                        continue;
                    }
                    walked += 1;
                    expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
                }
            }
        }
    }
    assert!(walked >= 12, "walked {walked} requests");

    // Nothing of Alice's changed or went away.
    let device = expect_json(
        app.get(
            &format!("/api/v1/devices/{}", alice_camera.id),
            Some(&alice.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(device, alice_camera.body);
    let stream = expect_json(
        app.get(
            &format!("/api/v1/stream-sessions/{alice_stream}"),
            Some(&alice.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stream["status"], "requested", "Bob's DELETE ended nothing");
    let recording = expect_json(
        app.get(
            &format!("/api/v1/recordings/{alice_recording}"),
            Some(&alice.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        recording["status"], "available",
        "Bob's DELETE deleted nothing"
    );
    let bob_recordings = expect_json(
        app.get("/api/v1/recordings", Some(&bob.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bob_recordings["items"], json!([]));
    expect_json(
        app.get(
            &format!("/api/v1/webhooks/{alice_webhook}"),
            Some(&alice.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let notifications = expect_json(
        app.get("/api/v1/notifications?unread=true", Some(&alice.token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        item_ids(&notifications),
        vec![alice_notification.as_str()],
        "Bob's read marked nothing"
    );
    for list in [
        "/api/v1/notifications",
        "/api/v1/webhooks",
        "/api/v1/notification-deliveries",
    ] {
        let bobs = expect_json(app.get(list, Some(&bob.token)).await, StatusCode::OK).await;
        assert_eq!(bobs["items"], json!([]), "{list}");
    }
    expect_json(
        app.get("/api/v1/auth/session", Some(&alice.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.get("/api/v1/devices", Some(&alice_camera.token))
            .await
            .status(),
        StatusCode::OK
    );

    // Lists show only the caller's rows.
    let bob_devices = expect_json(
        app.get("/api/v1/devices", Some(&bob.token)).await,
        StatusCode::OK,
    )
    .await;
    let bobs = |page: &serde_json::Value| {
        let mut ids: Vec<String> = item_ids(page).into_iter().map(String::from).collect();
        ids.sort();
        ids
    };
    let mut expected = vec![bob_camera.id.clone(), bob_phone.id.clone()];
    expected.sort();
    assert_eq!(bobs(&bob_devices), expected);
    let bob_sessions = expect_json(
        app.get("/api/v1/auth/sessions", Some(&bob.token)).await,
        StatusCode::OK,
    )
    .await;
    assert!(bob_sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["id"] != alice_session.as_str()));
    let bob_audit = expect_json(
        app.get("/api/v1/audit-logs?limit=200", Some(&bob.token))
            .await,
        StatusCode::OK,
    )
    .await;
    for row in bob_audit["items"].as_array().unwrap() {
        assert_eq!(row["owner_user_id"], bob.id.as_str(), "{row}");
        assert_ne!(row["target_id"], alice_camera.id.as_str());
    }
    // A cursor that points past everyone's rows still pages through the caller's only.
    let past_all = securecam_storage::Cursor(uuid::Uuid::max()).encode();
    let page = expect_json(
        app.get(
            &format!("/api/v1/devices?cursor={past_all}"),
            Some(&bob.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bobs(&page), expected);
}
