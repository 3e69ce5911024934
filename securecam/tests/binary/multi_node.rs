//! Two real `securecam serve --components signal` processes on one PostgreSQL behave as one:
//! presence, commands (both ways), `command.updated`, `event.created` and `stream.updated`
//! cross from one to the other; a device connecting to the second node replaces its connection on the first;
//! a sign-out on one node stops the token on the other at once, despite its credential
//! cache; deleting a device closes its WebSocket wherever it is. Streams go to a relay running
//! as a third process, and a relay process that is killed takes its sessions with it.

use std::time::Duration;

use crate::support::{securecam, serve_with, Server};
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use securecam_storage_postgres::testing::TestDatabase;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn node(dir: &std::path::Path, database_url: &str) -> (Server, String) {
    let (server, url, _, _) = serve_with(
        dir,
        &["serve", "--components", "signal"],
        &[
            ("SECURECAM_HTTP_ADDR", "127.0.0.1:0"),
            ("SECURECAM_DATABASE_URL", database_url),
            // Long enough that only cross-node invalidation can explain a prompt 401.
            ("SECURECAM_SIGNAL__CREDENTIAL_CACHE_TTL", "300"),
            // No help from the retry sweeper: commands must cross by the bus.
            ("SECURECAM_SIGNAL__COMMAND_SWEEP_INTERVAL_MS", "600000"),
        ],
    );
    (server, url.replace("localhost", "127.0.0.1"))
}

/// A `securecam serve --components relay` process on the same database and keys.
fn relay(dir: &std::path::Path, database_url: &str) -> (Server, String) {
    let (server, url, _, _) = serve_with(
        dir,
        &["serve", "--components", "relay"],
        &[
            ("SECURECAM_HTTP_ADDR", "127.0.0.1:0"),
            ("SECURECAM_DATABASE_URL", database_url),
            ("SECURECAM_RELAY_UDP_PORT", "0"),
            ("SECURECAM_RELAY__HEARTBEAT_SECS", "1"),
        ],
    );
    (server, url)
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn connect(base: &str, token: &str) -> Ws {
    let mut request = format!("{}/api/v1/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(next_of_type(&mut ws, "hello").await["type"], "hello");
    ws
}

/// The next frame of type `kind` (others skipped) within 5 s; the close code if it closes.
async fn next_of_type(ws: &mut Ws, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} within 5 s"));
        match frame {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(text.as_str()).unwrap();
                if value["type"] == kind {
                    return value;
                }
            }
            Some(Ok(Message::Close(close))) => {
                return json!({"type": "close", "code": close.map(|c| u16::from(c.code))})
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended while waiting for {kind}: {other:?}"),
        }
    }
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_behave_as_one() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let migrated = securecam(dir.path())
        .args(["migrate"])
        .env("SECURECAM_DATABASE_URL", database.url())
        .status()
        .unwrap();
    assert!(migrated.success());
    let (node_a, a) = node(dir.path(), database.url());
    let (node_b, b) = node(dir.path(), database.url());
    let (relay_node, relay_url) = relay(dir.path(), database.url());
    let http = reqwest::Client::new();

    let (status, signed_up) = post(
        &http,
        &format!("{a}/api/v1/auth/sign-up"),
        None,
        json!({"email": "owner@example.com", "password": "a long password", "name": "Owner"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let user_token = signed_up["session"]["token"].as_str().unwrap().to_string();
    let device = |name: &str, role: &str| {
        let http = http.clone();
        let a = a.clone();
        let user_token = user_token.clone();
        let body = json!({"name": name, "role": role, "platform": "android"});
        async move {
            let (status, created) = post(
                &http,
                &format!("{a}/api/v1/devices"),
                Some(&user_token),
                body,
            )
            .await;
            assert_eq!(status, StatusCode::CREATED);
            (
                created["device"]["id"].as_str().unwrap().to_string(),
                created["device_token"].as_str().unwrap().to_string(),
            )
        }
    };
    let (camera_id, camera_token) = device("Door", "camera").await;
    let (phone_id, phone_token) = device("Phone", "viewer").await;

    // The phone on A hears the camera come online on B.
    let mut phone = connect(&a, &phone_token).await;
    let mut camera = connect(&b, &camera_token).await;
    let presence = next_of_type(&mut phone, "presence").await;
    assert_eq!(presence["device_id"], camera_id.as_str());
    assert_eq!(presence["status"], "online");

    // A command created on A reaches the camera on B; its answer reaches the phone on A.
    let (status, created) = post(
        &http,
        &format!("{a}/api/v1/devices/{camera_id}/commands"),
        Some(&user_token),
        json!({"command_type": "take_snapshot"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let delivered = next_of_type(&mut camera, "command").await;
    assert_eq!(delivered["command"]["id"], created["command"]["id"]);
    send(&mut phone, json!({"type": "command.send", "ref": 1, "target_device_id": camera_id, "command_type": "set_torch", "payload": {"on": true}})).await;
    let accepted = next_of_type(&mut phone, "command.accepted").await["command"].clone();
    let delivered = next_of_type(&mut camera, "command").await;
    assert_eq!(delivered["command"]["id"], accepted["id"]);
    send(&mut camera, json!({"type": "command.ack", "command_id": accepted["id"], "status": "acknowledged", "result": {"torch": "on"}})).await;
    let updated = next_of_type(&mut phone, "command.updated").await["command"].clone();
    assert_eq!(updated["id"], accepted["id"]);
    assert_eq!(updated["status"], "acknowledged");
    assert_eq!(updated["result"], json!({"torch": "on"}));

    // An event reported on B is on the phone on A at once.
    send(
        &mut camera,
        json!({"type": "event.start", "ref": "e", "triggered_by": "motion"}),
    )
    .await;
    let event = next_of_type(&mut camera, "event.started").await["event"].clone();
    let created = next_of_type(&mut phone, "event.created").await;
    assert_eq!(created["event"], event);

    // Live view asked on A: the camera on B is told to publish; its answer moves the session
    // and the phone on A hears so.
    let (status, session) = post(
        &http,
        &format!("{a}/api/v1/stream-sessions"),
        Some(&phone_token),
        json!({"camera_device_id": camera_id, "requester_device_id": phone_id, "reason": "live_view"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let on_relay = format!("{relay_url}/media/whep/");
    assert!(
        session["subscribe_endpoint"]
            .as_str()
            .unwrap()
            .starts_with(&on_relay),
        "{session} is not on the relay process {relay_url}"
    );
    let start = next_of_type(&mut camera, "command").await["command"].clone();
    assert_eq!(start["command_type"], "start_stream");
    assert_eq!(start["payload"]["stream_session_id"], session["id"]);
    send(
        &mut camera,
        json!({"type": "command.ack", "command_id": start["id"], "status": "acknowledged"}),
    )
    .await;
    let updated = next_of_type(&mut phone, "stream.updated").await["stream_session"].clone();
    assert_eq!(updated["id"], session["id"]);
    assert_eq!(updated["status"], "starting");

    // The camera reconnects to A: its connection on B closes with 4001 and it stays online.
    let mut camera_on_a = connect(&a, &camera_token).await;
    let closed = next_of_type(&mut camera, "never").await;
    assert_eq!(closed, json!({"type": "close", "code": 4001}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status_of = |token: String| {
        let http = http.clone();
        let b = b.clone();
        let camera_id = camera_id.clone();
        async move {
            let response = http
                .get(format!("{b}/api/v1/devices/{camera_id}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (
                response.status(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, seen_from_b) = status_of(user_token.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen_from_b["status"], "online");

    // Signing out on A stops the token on B at once, although B had it cached.
    let (status, _) = post(
        &http,
        &format!("{a}/api/v1/auth/sign-out"),
        Some(&user_token),
        json!({}),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let mut refused = false;
    for _ in 0..20 {
        if status_of(user_token.clone()).await.0 == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "B still accepts a token signed out on A");

    // Deleting the camera on B (signed in again) closes its WebSocket on A.
    let (status, signed_in) = post(
        &http,
        &format!("{b}/api/v1/auth/sign-in"),
        None,
        json!({"email": "owner@example.com", "password": "a long password"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token = signed_in["session"]["token"].as_str().unwrap();
    let deleted = http
        .delete(format!("{b}/api/v1/devices/{camera_id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let closed = next_of_type(&mut camera_on_a, "never").await;
    assert_eq!(closed, json!({"type": "close", "code": 4003}));

    node_a.stop();
    node_b.stop();
    relay_node.stop();
}

/// A relay process killed without a goodbye: its heartbeats stop, signal stops offering it
/// and ends the sessions it carried (`relay_lost`); a relay started again takes new streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_relay_process_takes_its_sessions_with_it() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (signal, base, _, _) = serve_with(
        dir.path(),
        &["serve", "--components", "signal"],
        &[
            ("SECURECAM_HTTP_ADDR", "127.0.0.1:0"),
            ("SECURECAM_DATABASE_URL", database.url()),
            ("SECURECAM_SIGNAL__RELAY_STALE_SECS", "2"),
        ],
    );
    let base = base.replace("localhost", "127.0.0.1");
    let (relay_node, relay_url) = relay(dir.path(), database.url());
    let http = reqwest::Client::new();
    let (_, signed_up) = post(
        &http,
        &format!("{base}/api/v1/auth/sign-up"),
        None,
        json!({"email": "owner@example.com", "password": "a long password", "name": "Owner"}),
    )
    .await;
    let token = signed_up["session"]["token"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for (name, role) in [("Porch", "camera"), ("Phone", "viewer")] {
        let (status, created) = post(
            &http,
            &format!("{base}/api/v1/devices"),
            Some(&token),
            json!({"name": name, "role": role, "platform": "android"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["device"]["id"].as_str().unwrap().to_string());
    }
    let sessions_url = format!("{base}/api/v1/stream-sessions");
    let open = || {
        post(
            &http,
            &sessions_url,
            Some(&token),
            json!({"camera_device_id": ids[0], "requester_device_id": ids[1], "reason": "live_view"}),
        )
    };
    let (status, session) = open().await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert!(session["subscribe_endpoint"]
        .as_str()
        .unwrap()
        .starts_with(&relay_url));

    drop(relay_node); // SIGKILL
    let id = session["id"].as_str().unwrap();
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = http
            .get(format!("{base}/api/v1/stream-sessions/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if seen["status"] == "ended" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["status"], "ended", "{seen}");
    assert_eq!(seen["end_reason"], "relay_lost");
    // No relay left: new streams are refused until one registers.
    let (status, refused) = open().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["code"], "relay_unavailable");
    let (relay_again, url_again) = relay(dir.path(), database.url());
    let (status, session) = open().await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert!(session["subscribe_endpoint"]
        .as_str()
        .unwrap()
        .starts_with(&url_again));
    relay_again.stop();
    signal.stop();
}
