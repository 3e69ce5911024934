//! Owner isolation: every endpoint that takes an id, walked with a second user's token and
//! the first user's ids, answers 404 — exactly as for an id that does not exist — and
//! changes nothing. Lists never show another owner's rows.

use reqwest::{Method, StatusCode};
use securecam_tests::{both_backends, expect_json, expect_problem, spawn_app, Backend};
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
    let alice_session = expect_json(
        app.get("/api/v1/auth/session", Some(&alice.token)).await,
        StatusCode::OK,
    )
    .await["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unknown = uuid::Uuid::now_v7().to_string();

    // (method, path template, body) for every endpoint with an id in its path.
    let endpoints: Vec<(Method, &str, Option<serde_json::Value>)> = vec![
        (Method::GET, "/api/v1/devices/{device}", None),
        (
            Method::PATCH,
            "/api/v1/devices/{device}",
            Some(json!({"name": "pwned"})),
        ),
        (Method::DELETE, "/api/v1/devices/{device}", None),
        (Method::DELETE, "/api/v1/auth/sessions/{session}", None),
    ];
    for (method, template, body) in &endpoints {
        for (who, token) in [
            ("bob's user token", &bob.token),
            ("bob's device token", &bob_camera.token),
        ] {
            for (device, session) in [
                (alice_camera.id.as_str(), alice_session.as_str()),
                (unknown.as_str(), unknown.as_str()),
            ] {
                let path = template
                    .replace("{device}", device)
                    .replace("{session}", session);
                let response = app
                    .request(method.clone(), &path, Some(token), body.as_ref())
                    .await;
                let status = response.status();
                // Session endpoints need a user token: a device token is refused before any id is looked at.
                if template.contains("sessions") && who.contains("device") {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {who}");
                    continue;
                }
                expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
            }
        }
    }

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
    let ids: Vec<&str> = bob_devices["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![bob_camera.id.as_str()]);
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
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![bob_camera.id.as_str()]);
}
