//! Push delivery end to end: an event (or a command for an offline device) queues jobs that
//! the notifier sends to stand-ins for FCM and APNs (local HTTP/2 servers speaking their
//! documented answers, errors included), to a Web Push subscriber and a webhook receiver
//! written independently (Python: `http_ece`, `cryptography`, `standardwebhooks`). Retries,
//! `Retry-After`, refused tokens (dead, forgotten, audited) and what the API shows of it all.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use securecam_notifier::config::{ApnsConfig, FcmConfig};
use securecam_tests::push::{fake_apns, fake_fcm, Answer, APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC};
use securecam_tests::receiver::Receiver;
use securecam_tests::{both_backends, expect_json, spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};

both_backends!(
    fcm_pushes_retries_and_refused_tokens,
    apns_pushes_retries_and_refused_tokens,
    web_push_and_webhooks_reach_independent_receivers,
);

/// A viewer (or camera) registered with a push token.
async fn device(
    app: &TestApp,
    user_token: &str,
    name: &str,
    role: &str,
    provider: &str,
    token: &str,
) -> (String, String) {
    let created = expect_json(
        app.post(
            "/api/v1/devices",
            Some(user_token),
            &json!({"name": name, "role": role, "platform": "android",
                    "push_provider": provider, "push_token": token}),
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

async fn report_event(app: &TestApp, camera_token: &str) -> Value {
    expect_json(
        app.post(
            "/api/v1/events",
            Some(camera_token),
            &json!({"triggered_by": "motion"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["event"]
        .clone()
}

async fn deliveries(app: &TestApp, user_token: &str) -> Vec<Value> {
    expect_json(
        app.get(
            "/api/v1/notification-deliveries?limit=200",
            Some(user_token),
        )
        .await,
        StatusCode::OK,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls the user's deliveries (every 50 ms, for up to 20 s) until `done` holds.
async fn deliveries_until(
    app: &TestApp,
    user_token: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let items = deliveries(app, user_token).await;
        if done(&items) {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 20 s; deliveries: {items:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn to_device<'a>(items: &'a [Value], device: &str, kind: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|d| d["recipient_device_id"] == device && d["type"] == kind)
}

fn status_of(items: &[Value], device: &str) -> String {
    to_device(items, device, "event")
        .map(|d| d["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// The device as its owner sees it.
async fn get_device(app: &TestApp, user_token: &str, id: &str) -> Value {
    expect_json(
        app.get(&format!("/api/v1/devices/{id}"), Some(user_token))
            .await,
        StatusCode::OK,
    )
    .await
}

fn fast_retries(settings: &mut securecam::Settings) {
    settings.notifier.retry_first_ms = 100;
    settings.notifier.poll_interval_ms = 100;
}

async fn fcm_pushes_retries_and_refused_tokens(backend: Backend) {
    let fcm = fake_fcm().await;
    let push = &fcm.server;
    push.script(
        "fcm-gone",
        vec![Answer::fcm_error(
            404,
            "UNREGISTERED",
            "Requested entity was not found.",
        )],
    );
    push.script(
        "fcm-invalid",
        vec![Answer::fcm_error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        )],
    );
    push.script(
        "fcm-flaky",
        vec![Answer::fcm_error(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
        )],
    );
    push.script(
        "fcm-quota",
        vec![Answer::fcm_error(429, "QUOTA_EXCEEDED", "Quota exceeded.")
            .with_header("retry-after", "2")],
    );
    let account = fcm.service_account.clone();
    let base_url = push.url.clone();
    let app = spawn_app_with(backend, move |settings| {
        fast_retries(settings);
        settings.notifier.fcm = Some(FcmConfig {
            service_account_file: None,
            service_account_json: Some(account.into()),
            base_url,
            token_url: None,
        });
    })
    .await;
    let owner = app.sign_up("owner@fcm.test").await;
    let (camera, camera_token) =
        device(&app, &owner.token, "Door", "camera", "fcm", "fcm-camera").await;
    let (good, _) = device(&app, &owner.token, "good", "viewer", "fcm", "fcm-good").await;
    let (gone, _) = device(&app, &owner.token, "gone", "viewer", "fcm", "fcm-gone").await;
    let (invalid, _) = device(
        &app,
        &owner.token,
        "invalid",
        "viewer",
        "fcm",
        "fcm-invalid",
    )
    .await;
    let (flaky, _) = device(&app, &owner.token, "flaky", "viewer", "fcm", "fcm-flaky").await;
    let (quota, _) = device(&app, &owner.token, "quota", "viewer", "fcm", "fcm-quota").await;

    let event = report_event(&app, &camera_token).await;
    let items = deliveries_until(&app, &owner.token, "every push settled", |items| {
        status_of(items, &good) == "sent"
            && status_of(items, &gone) == "dead"
            && status_of(items, &invalid) == "dead"
            && status_of(items, &flaky) == "sent"
            && status_of(items, &quota) == "failed"
    })
    .await;

    // Sent at once: one attempt, no error, nothing more to come.
    let sent = to_device(&items, &good, "event").unwrap();
    assert_eq!(sent["attempts"], 1);
    assert!(sent["sent_at"].is_string());
    assert!(sent["next_attempt_at"].is_null());
    assert!(sent["last_error"].is_null());
    // 503 once, then sent on the second attempt.
    let retried = to_device(&items, &flaky, "event").unwrap();
    assert_eq!(retried["attempts"], 2);
    assert_eq!(push.received_for("fcm-flaky").len(), 2);
    // 429: FCM's minute, however short its Retry-After.
    let waiting = to_device(&items, &quota, "event").unwrap();
    assert_eq!(waiting["attempts"], 1);
    assert!(waiting["last_error"]
        .as_str()
        .unwrap()
        .contains("QUOTA_EXCEEDED"));
    let wait = time(&waiting["next_attempt_at"]) - time(&event["created_at"]);
    assert!(wait >= chrono::Duration::seconds(59), "waits {wait}");
    // Refused tokens: dead after one attempt, forgotten, audited.
    for (device_id, code) in [(&gone, "UNREGISTERED"), (&invalid, "INVALID_ARGUMENT")] {
        let dead = to_device(&items, device_id, "event").unwrap();
        assert_eq!(dead["attempts"], 1);
        assert!(
            dead["last_error"].as_str().unwrap().contains(code),
            "{dead}"
        );
        assert!(dead["next_attempt_at"].is_null());
        let shown = get_device(&app, &owner.token, device_id).await;
        assert!(shown["push_provider"].is_null(), "{shown}");
    }
    let audit = app.audit_actions(&owner.token).await;
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "device.push_token_invalid")
            .count(),
        2,
        "{audit:?}"
    );

    // What FCM was sent: one OAuth2 token for everything, an alert naming the camera, the
    // job's id to deduplicate on, alerts of one camera collapsing.
    assert_eq!(push.token_requests(), 1, "the access token is cached");
    assert!(
        push.auth_failures().is_empty(),
        "{:?}",
        push.auth_failures()
    );
    let message = push.received_for("fcm-good")[0].json();
    let message = &message["message"];
    assert_eq!(message["notification"]["title"], "Door");
    assert_eq!(message["notification"]["body"], "Motion detected");
    assert_eq!(message["data"]["event_id"], event["id"]);
    assert_eq!(message["data"]["delivery_id"], sent["id"]);
    assert!(message["data"]["deep_link"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/events/{}", event["id"].as_str().unwrap())));
    assert_eq!(message["android"]["collapse_key"], camera.replace('-', ""));
    assert_eq!(message["android"]["priority"], "high");
    // The camera gets no alert of its own event; but the event's clip needs it streaming,
    // and it is offline: its `start_stream` comes with a data-only wake-up.
    let items = deliveries_until(&app, &owner.token, "the wake-up is sent", |items| {
        to_device(items, &camera, "command_wakeup").is_some_and(|d| d["status"] == "sent")
    })
    .await;
    assert!(to_device(&items, &camera, "event").is_none());
    let wake_up = to_device(&items, &camera, "command_wakeup").unwrap();
    let to_camera = push.received_for("fcm-camera");
    assert_eq!(to_camera.len(), 1);
    let message = to_camera[0].json();
    assert!(
        message["message"].get("notification").is_none(),
        "{message}"
    );
    assert_eq!(message["message"]["data"]["type"], "command");
    assert_eq!(message["message"]["data"]["command_type"], "start_stream");
    assert_eq!(message["message"]["data"]["delivery_id"], wake_up["id"]);
    assert_eq!(
        message["message"]["apns"]["headers"]["apns-push-type"],
        "background"
    );
}

fn hex_token(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

async fn apns_pushes_retries_and_refused_tokens(backend: Backend) {
    let apns = fake_apns().await;
    let push = &apns.server;
    let (good, bad, unregistered, busy, camera_token) = (
        hex_token('a'),
        hex_token('b'),
        hex_token('c'),
        hex_token('d'),
        hex_token('e'),
    );
    push.script(&bad, vec![Answer::apns_error(400, "BadDeviceToken")]);
    push.script(&unregistered, vec![Answer::apns_error(410, "Unregistered")]);
    push.script(
        &busy,
        vec![Answer::apns_error(503, "ServiceUnavailable").with_header("retry-after", "1")],
    );
    let key = apns.key_pem.clone();
    let base_url = push.url.clone();
    let app = spawn_app_with(backend, move |settings| {
        fast_retries(settings);
        settings.notifier.apns = Some(ApnsConfig {
            key_file: None,
            key_pem: Some(key.into()),
            key_id: APNS_KEY_ID.into(),
            team_id: APNS_TEAM_ID.into(),
            topic: APNS_TOPIC.into(),
            base_url,
        });
    })
    .await;
    let owner = app.sign_up("owner@apns.test").await;
    let (camera, camera_device_token) = device(
        &app,
        &owner.token,
        "Garage",
        "camera",
        "apns",
        &camera_token,
    )
    .await;
    let (good_id, _) = device(&app, &owner.token, "good", "viewer", "apns", &good).await;
    let (bad_id, _) = device(&app, &owner.token, "bad", "viewer", "apns", &bad).await;
    let (unregistered_id, _) = device(
        &app,
        &owner.token,
        "unregistered",
        "viewer",
        "apns",
        &unregistered,
    )
    .await;
    let (busy_id, _) = device(&app, &owner.token, "busy", "viewer", "apns", &busy).await;

    let event = report_event(&app, &camera_device_token).await;
    let items = deliveries_until(&app, &owner.token, "every push settled", |items| {
        status_of(items, &good_id) == "sent"
            && status_of(items, &bad_id) == "dead"
            && status_of(items, &unregistered_id) == "dead"
            && status_of(items, &busy_id) == "sent"
    })
    .await;
    assert!(
        push.auth_failures().is_empty(),
        "{:?}",
        push.auth_failures()
    );
    let sent = to_device(&items, &good_id, "event").unwrap();
    let request = &push.received_for(&good)[0];
    assert_eq!(request.header("apns-id"), sent["id"].as_str());
    assert_eq!(request.header("apns-push-type"), Some("alert"));
    assert_eq!(request.header("apns-priority"), Some("10"));
    assert_eq!(request.header("apns-topic"), Some(APNS_TOPIC));
    let collapse = camera.replace('-', "");
    assert_eq!(request.header("apns-collapse-id"), Some(collapse.as_str()));
    let body = request.json();
    assert_eq!(body["aps"]["alert"]["title"], "Garage");
    assert_eq!(body["aps"]["thread-id"], collapse.as_str());
    assert_eq!(body["event_id"], event["id"]);
    // 503 with Retry-After: 1, then delivered under the same apns-id.
    let busy_requests = push.received_for(&busy);
    assert_eq!(busy_requests.len(), 2);
    assert_eq!(
        busy_requests[0].header("apns-id"),
        busy_requests[1].header("apns-id")
    );
    assert_eq!(to_device(&items, &busy_id, "event").unwrap()["attempts"], 2);
    for (id, reason) in [
        (&bad_id, "BadDeviceToken"),
        (&unregistered_id, "Unregistered"),
    ] {
        let dead = to_device(&items, id, "event").unwrap();
        assert!(
            dead["last_error"].as_str().unwrap().contains(reason),
            "{dead}"
        );
        assert!(get_device(&app, &owner.token, id).await["push_provider"].is_null());
    }

    // The event's clip wakes the offline camera: a background push at priority 5.
    deliveries_until(&app, &owner.token, "the wake-up is sent", |items| {
        to_device(items, &camera, "command_wakeup").is_some_and(|d| d["status"] == "sent")
    })
    .await;
    let wake_up = &push.received_for(&camera_token)[0];
    assert_eq!(wake_up.header("apns-push-type"), Some("background"));
    assert_eq!(wake_up.header("apns-priority"), Some("5"));
    assert_eq!(wake_up.json()["aps"], json!({"content-available": 1}));
    assert_eq!(wake_up.json()["command_type"], "start_stream");
}

async fn receiver_until(
    receiver: &Receiver,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let received = receiver.received().await;
        if done(&received) {
            return received;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 20 s; received: {received:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn web_push_and_webhooks_reach_independent_receivers(backend: Backend) {
    let receiver = Receiver::start(2).await;
    let app = spawn_app_with(backend, |settings| {
        fast_retries(settings);
        // The receiver listens on loopback.
        settings.allow_private_targets = true;
    })
    .await;
    let owner = app.sign_up("owner@webpush.test").await;
    let camera = app.create_device(&owner.token, "Hall", "camera").await;
    let (browser, _) = device(
        &app,
        &owner.token,
        "browser",
        "viewer",
        "webpush",
        &receiver.subscriptions[0],
    )
    .await;
    let (stale, _) = device(
        &app,
        &owner.token,
        "stale browser",
        "viewer",
        "webpush",
        &receiver.subscriptions[1],
    )
    .await;
    receiver.answer("/push/1", &[410]).await;

    let hook = expect_json(
        app.post(
            "/api/v1/webhooks",
            Some(&owner.token),
            &json!({"url": format!("{}/hook/a", receiver.url),
                    "events": ["event.created", "event.ended"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    receiver.secret("/hook/a", secret).await;
    // The first delivery fails: the retry carries the same id.
    receiver.answer("/hook/a", &[500]).await;

    let event = report_event(&app, &camera.token).await;
    let event_id = event["id"].as_str().unwrap();
    expect_json(
        app.post(
            &format!("/api/v1/events/{event_id}/end"),
            Some(&camera.token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let received = receiver_until(&receiver, "pushes and webhooks arrive", |got| {
        let hooks = got.iter().filter(|r| r["kind"] == "webhook").count();
        let pushes = got.iter().filter(|r| r["kind"] == "push").count();
        hooks >= 3 && pushes >= 2
    })
    .await;

    // Web Push: the subscriber decrypted it and the VAPID signature is the server's key.
    let vapid = expect_json(
        app.get("/api/v1/webpush/vapid-public-key", None).await,
        StatusCode::OK,
    )
    .await;
    let push = received
        .iter()
        .find(|r| r["kind"] == "push" && r["path"] == "/push/0")
        .unwrap();
    assert_eq!(push["vapid_ok"], true, "{push}");
    assert_eq!(push["vapid_key"], vapid["public_key"]);
    assert_eq!(push["content_encoding"], "aes128gcm");
    assert!(push.get("decrypt_error").is_none(), "{push}");
    assert_eq!(push["payload"]["title"], "Hall");
    assert_eq!(push["payload"]["body"], "Motion detected");
    assert_eq!(push["payload"]["event_id"], event_id);
    assert_eq!(push["urgency"], "high");
    assert_eq!(push["topic"], camera.id.replace('-', ""));
    let items = deliveries_until(&app, &owner.token, "web pushes settled", |items| {
        status_of(items, &browser) == "sent" && status_of(items, &stale) == "dead"
    })
    .await;
    assert!(to_device(&items, &stale, "event").unwrap()["last_error"]
        .as_str()
        .unwrap()
        .contains("410"));
    assert!(get_device(&app, &owner.token, &stale).await["push_provider"].is_null());

    // Webhooks: every delivery verified by the reference implementation; the failed one was
    // retried with the same webhook-id; both types arrived with the event in `data`.
    let hooks: Vec<&Value> = received.iter().filter(|r| r["kind"] == "webhook").collect();
    assert!(hooks.iter().all(|h| h["verified"] == true), "{hooks:#?}");
    let created: Vec<&&Value> = hooks
        .iter()
        .filter(|h| h["payload"]["type"] == "event.created")
        .collect();
    assert_eq!(created.len(), 2, "{hooks:#?}");
    assert_eq!(created[0]["answered"], 500);
    assert_eq!(created[1]["answered"], 200);
    assert_eq!(created[0]["webhook_id"], created[1]["webhook_id"]);
    assert_eq!(created[0]["payload"]["data"]["id"], event_id);
    assert!(created[0]["payload"]["timestamp"].is_string());
    let ended: Vec<&&Value> = hooks
        .iter()
        .filter(|h| h["payload"]["type"] == "event.ended")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["payload"]["data"]["status"], "ended");
    let items = deliveries_until(&app, &owner.token, "webhooks settled", |items| {
        items
            .iter()
            .filter(|d| d["type"] == "webhook")
            .all(|d| d["status"] == "sent")
    })
    .await;
    let webhook_job = items
        .iter()
        .find(|d| d["type"] == "webhook" && d["id"] == created[0]["webhook_id"])
        .expect("webhook-id is the job's id");
    assert_eq!(webhook_job["attempts"], 2);
    assert_eq!(webhook_job["webhook_endpoint_id"], hook["id"]);
}
