//! Relays as their own processes: each registers in `relay_nodes` and heartbeats; signal puts
//! every new stream on the least loaded live relay, hears what the relay sees through the
//! PostgreSQL bus, tells the relay which sessions ended, and ends the sessions of a relay
//! that went away.

use std::time::Duration;

use reqwest::StatusCode;
use securecam::Component;
use securecam_tests::media::{
    household, open_session, session_status, wait_for_status, MEDIA_TIMEOUT,
};
use securecam_tests::{both_backends, expect_problem, spawn_components, Backend, TestApp};
use serde_json::{json, Value};

both_backends!(streams_need_a_live_relay);

/// Signal alone, no relay anywhere: a stream cannot be opened, and the caller is told to
/// come back rather than handed endpoints nobody serves.
async fn streams_need_a_live_relay(backend: Backend) {
    let app = spawn_components(backend, &[Component::Signal], |_| {}).await;
    let owner = app.sign_up("owner@example.com").await;
    let camera = app.create_device(&owner.token, "Porch", "camera").await;
    let phone = app.create_device(&owner.token, "Phone", "viewer").await;
    let response = app
        .post(
            "/api/v1/stream-sessions",
            Some(&owner.token),
            &json!({"camera_device_id": camera.id, "requester_device_id": phone.id, "reason": "live_view"}),
        )
        .await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "relay_unavailable",
    )
    .await;
}

/// How many viewer legs a relay reports for `stream` on its `/metrics`.
async fn viewers_on(app: &TestApp, relay_url: &str, stream: &str) -> Option<u32> {
    let metrics = app
        .client
        .get(format!("{relay_url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("securecam_relay_stream_viewers{{stream=\"{stream}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|n| n.trim().parse().unwrap())
}

async fn wait_for_session(app: &TestApp, token: &str, id: &Value, status: &str) -> Value {
    let mut session = Value::Null;
    for _ in 0..100 {
        session = session_status(app, token, id).await;
        if session["status"] == status {
            return session;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("session never became {status}: {session}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_in_their_own_processes() {
    let app = spawn_components(Backend::Postgres, &[Component::Signal], |s| {
        s.relay.heartbeat_secs = 1;
        s.signal.relay_stale_secs = 3;
    })
    .await;
    let first = app.spawn_node(&[Component::Relay]).await;
    let second = app.spawn_node(&[Component::Relay]).await;
    let relays = [first.base_url.clone(), second.base_url.clone()];
    let live = app
        .db
        .live_relays(chrono::Utc::now() - chrono::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(live.len(), 2, "both relays registered");
    assert!(live.iter().all(|r| relays.contains(&r.public_url)));

    // Two cameras of two households go to two different relays: the least loaded wins.
    let mut home = household(&app, "ada@example.com").await;
    let other = household(&app, "bob@example.com").await;
    let endpoint = |session: &Value| session["subscribe_endpoint"].as_str().unwrap().to_string();
    let relay_of = |url: &str| {
        relays
            .iter()
            .position(|r| url.starts_with(&format!("{r}/media/")))
            .unwrap_or_else(|| panic!("{url} is on no relay"))
    };
    let ada_relay = relay_of(&endpoint(&home.session));
    assert_eq!(relay_of(&home.camera.publish_endpoint), ada_relay);
    let bob_relay = relay_of(&endpoint(&other.session));
    assert_ne!(
        ada_relay, bob_relay,
        "the second stream went to the idle relay"
    );
    let ada_url = relays[ada_relay].clone();

    // The camera publishes to its relay; signal hears of it through the bus.
    let camera = home.publish(&app).await;
    assert!(camera.wait_for(MEDIA_TIMEOUT, |s| s.connected).await);
    let live = wait_for_status(&mut home.phone_ws, "live").await;
    assert_eq!(live["id"], home.session["id"]);
    let view = home.watch(&app).await;
    assert!(
        view.wait_for(MEDIA_TIMEOUT, |s| s.video_packets > 30 && s.keyframes >= 1)
            .await,
        "{:?}",
        view.stats()
    );
    assert_eq!(viewers_on(&app, &ada_url, &home.stream).await, Some(1));

    // A second viewer of the same camera joins it on the same relay.
    let tablet = app
        .create_device(&home.owner.token, "Tablet", "viewer")
        .await;
    let tablet_session =
        open_session(&app, &tablet.token, &home.camera.device.id, &tablet.id).await;
    assert_eq!(tablet_session["status"], "live");
    assert_eq!(endpoint(&tablet_session), endpoint(&home.session));

    // The owner ends the phone's session at signal: the relay in the other process cuts
    // the phone's viewer leg.
    let ended = app
        .delete(
            &format!(
                "/api/v1/stream-sessions/{}",
                home.session["id"].as_str().unwrap()
            ),
            Some(&home.owner.token),
        )
        .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    let mut viewers = None;
    for _ in 0..100 {
        viewers = viewers_on(&app, &ada_url, &home.stream).await;
        if viewers == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(viewers, Some(0), "the viewer leg was cut");
    assert!(view.wait_for(MEDIA_TIMEOUT, |s| s.disconnected).await);

    // The camera's relay shuts down: it retires, and the sessions it carried end.
    let (gone, stays) = if ada_relay == 0 {
        (first, second)
    } else {
        (second, first)
    };
    gone.stop().await;
    let lost = wait_for_session(&app, &tablet.token, &tablet_session["id"], "ended").await;
    assert_eq!(lost["end_reason"], "relay_lost");
    // A new stream of that camera goes to the relay still running.
    let again = open_session(
        &app,
        &home.owner.token,
        &home.camera.device.id,
        &home.phone.id,
    )
    .await;
    assert!(endpoint(&again).starts_with(&format!("{}/media/whep/", stays.base_url)));

    // The relay that left is no longer offered; the one still running is. (A relay that
    // vanishes without a goodbye is given up on after `relay_stale_secs`: the storage story
    // covers that, since a relay in this test process cannot die without unwinding.)
    let live = app
        .db
        .live_relays(chrono::Utc::now() - chrono::Duration::seconds(3))
        .await
        .unwrap();
    assert_eq!(
        live.iter()
            .map(|r| r.public_url.clone())
            .collect::<Vec<_>>(),
        vec![stays.base_url.clone()]
    );
}
