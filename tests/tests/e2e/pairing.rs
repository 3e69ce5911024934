//! Pairing a phone as a camera: start, claim (with a viewer link), poll once, connect.

use std::time::Instant;

use reqwest::StatusCode;
use securecam_tests::{
    both_backends, expect_json, expect_problem, spawn_app, ws_next_json, Backend,
};
use serde_json::json;

both_backends!(pairing_by_code, bad_codes_and_repeated_use);

async fn pairing_by_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let viewer = app
        .create_device(&owner.token, "Owner's phone", "viewer")
        .await;

    // The camera phone has no credential at all.
    let started = expect_json(
        app.post(
            "/api/v1/pairing-codes",
            None,
            &json!({"name": "Kitchen", "platform": "android"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let code = started["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 9, "ABCD-EFGH: {code}");
    assert!(started["pair_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/pair?code={code}")));
    let poll_token = started["poll_token"].as_str().unwrap().to_string();
    assert!(started["expires_at"].is_string());

    let pending = app
        .post(
            "/api/v1/pairing-codes/poll",
            None,
            &json!({"poll_token": poll_token}),
        )
        .await;
    assert_eq!(
        expect_json(pending, StatusCode::ACCEPTED).await,
        json!({"status": "pending"})
    );

    // The owner types it in lower case without the dash.
    let typed = code.replace('-', "").to_lowercase();
    let claimed = expect_json(
        app.post(
            "/api/v1/pairing-codes/claim",
            Some(&owner.token),
            &json!({"code": typed, "viewer_device_id": viewer.id}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let camera = &claimed["device"];
    assert_eq!(camera["name"], "Kitchen");
    assert_eq!(camera["role"], "camera");
    assert_eq!(camera["user_id"], owner.id.as_str());

    let delivered = expect_json(
        app.post(
            "/api/v1/pairing-codes/poll",
            None,
            &json!({"poll_token": poll_token}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(delivered["status"], "claimed");
    assert_eq!(delivered["device"], *camera);
    let device_token = delivered["device_token"].as_str().unwrap();
    assert!(device_token.starts_with("scd_"));
    let again = app
        .post(
            "/api/v1/pairing-codes/poll",
            None,
            &json!({"poll_token": poll_token}),
        )
        .await;
    expect_problem(again, StatusCode::GONE, "pairing_code_gone").await;

    // The token works: the camera connects and is the owner's device.
    let mut ws = app.ws_connect(Some(device_token), "").await.unwrap();
    assert_eq!(ws_next_json(&mut ws).await["device"]["id"], camera["id"]);
    let actions = app.audit_actions(&owner.token).await;
    assert_eq!(actions[0], "pairing.claim");
}

async fn bad_codes_and_repeated_use(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = app.sign_up("owner@example.com").await;
    let other = app.sign_up("other@example.com").await;
    let others_phone = app.create_device(&other.token, "Not yours", "viewer").await;
    let started = expect_json(
        app.post(
            "/api/v1/pairing-codes",
            None,
            &json!({"name": "Porch", "platform": "ios"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let code = started["code"].as_str().unwrap();

    // Unknown codes and valid ones take the same (padded) time to answer.
    let t = Instant::now();
    let unknown = app
        .post(
            "/api/v1/pairing-codes/claim",
            Some(&owner.token),
            &json!({"code": "ZZZZ-ZZZZ"}),
        )
        .await;
    let unknown_took = t.elapsed();
    expect_problem(unknown, StatusCode::NOT_FOUND, "pairing_code_not_found").await;
    assert!(unknown_took.as_millis() >= 250, "{unknown_took:?}");

    let foreign_viewer = app
        .post(
            "/api/v1/pairing-codes/claim",
            Some(&owner.token),
            &json!({"code": code, "viewer_device_id": others_phone.id}),
        )
        .await;
    expect_problem(
        foreign_viewer,
        StatusCode::NOT_FOUND,
        "pairing_code_not_found",
    )
    .await;

    let device_token = app.create_device(&owner.token, "x", "viewer").await.token;
    let with_device_token = app
        .post(
            "/api/v1/pairing-codes/claim",
            Some(&device_token),
            &json!({"code": code}),
        )
        .await;
    expect_problem(with_device_token, StatusCode::FORBIDDEN, "forbidden").await;

    let first = app
        .post(
            "/api/v1/pairing-codes/claim",
            Some(&owner.token),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = app
        .post(
            "/api/v1/pairing-codes/claim",
            Some(&other.token),
            &json!({"code": code}),
        )
        .await;
    expect_problem(second, StatusCode::GONE, "pairing_code_gone").await;

    let bad_start = app
        .post(
            "/api/v1/pairing-codes",
            None,
            &json!({"name": "", "platform": "android"}),
        )
        .await;
    expect_problem(
        bad_start,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let bad_poll = app
        .post(
            "/api/v1/pairing-codes/poll",
            None,
            &json!({"poll_token": "scp_nope"}),
        )
        .await;
    expect_problem(bad_poll, StatusCode::GONE, "pairing_code_gone").await;
}
