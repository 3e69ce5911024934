//! The notifier survives SIGKILL: a real `securecam serve` process delivering a few hundred
//! webhooks is killed in the middle of the batch and started again on the same database.
//! Every delivery is eventually made, none is left `sending`, and the only deliveries made
//! twice are ones that were in flight (`sending`) when the process died.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::serve_with;
use bytes::Bytes;
use http_body_util::Full;
use reqwest::StatusCode;
use securecam_storage::{Database, DeliveryStatus, PageRequest};
use securecam_storage_postgres::testing::TestDatabase;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const EVENTS: usize = 300;

/// A webhook receiver that answers after `delay`, counting deliveries per `webhook-id`.
async fn slow_receiver(delay: Duration) -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen: Arc<Mutex<HashMap<String, usize>>> = Default::default();
    let counts = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counts = counts.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let counts = counts.clone();
                        async move {
                            tokio::time::sleep(delay).await;
                            if let Some(id) = request
                                .headers()
                                .get("webhook-id")
                                .and_then(|v| v.to_str().ok())
                            {
                                *counts.lock().unwrap().entry(id.to_string()).or_default() += 1;
                            }
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, seen)
}

async fn open(database_url: &str) -> Arc<dyn Database> {
    if database_url.starts_with("postgres") {
        Arc::new(
            securecam_storage_postgres::PostgresDatabase::connect(database_url)
                .await
                .unwrap(),
        )
    } else {
        Arc::new(
            securecam_storage_sqlite::SqliteDatabase::connect(database_url)
                .await
                .unwrap(),
        )
    }
}

/// Every delivery of `owner` in `status`.
async fn ids_in(db: &dyn Database, owner: uuid::Uuid, status: DeliveryStatus) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut page = PageRequest::first(200);
    loop {
        let got = db
            .list_notification_deliveries(owner, Some(status), page)
            .await
            .unwrap();
        ids.extend(got.items.iter().map(|d| d.id.to_string()));
        match got.next_cursor {
            Some(cursor) => page.after = securecam_storage::Cursor::decode(&cursor),
            None => return ids,
        }
    }
}

async fn killed_mid_batch_then_everything_is_delivered(database_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (hook_url, seen) = slow_receiver(Duration::from_millis(40)).await;
    let env = [
        ("SECURECAM_HTTP_ADDR", "127.0.0.1:0"),
        ("SECURECAM_DATABASE_URL", database_url),
        ("SECURECAM_ALLOW_PRIVATE_TARGETS", "true"),
        ("SECURECAM_NOTIFIER__CONCURRENCY", "8"),
        ("SECURECAM_NOTIFIER__LEASE_SECS", "2"),
        ("SECURECAM_NOTIFIER__POLL_INTERVAL_MS", "100"),
        ("SECURECAM_NOTIFIER__RETRY_FIRST_MS", "100"),
    ];
    let args = ["serve", "--components", "signal,notifier"];
    let (mut server, base, _, _) = serve_with(dir.path(), &args, &env);
    let base = base.replace("localhost", "127.0.0.1");
    let client = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut request = client.post(format!("{base}{path}")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let signed_up: Value = post(
        "/api/v1/auth/sign-up",
        None,
        json!({"email": "crash@example.com", "password": "a long enough password", "name": "C"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = signed_up["session"]["token"].as_str().unwrap().to_string();
    let owner = uuid::Uuid::parse_str(signed_up["user"]["id"].as_str().unwrap()).unwrap();
    let camera: Value = post(
        "/api/v1/devices",
        Some(&token),
        json!({"name": "cam", "role": "camera", "platform": "android"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let camera_token = camera["device_token"].as_str().unwrap().to_string();
    let hook = post(
        "/api/v1/webhooks",
        Some(&token),
        json!({"url": hook_url, "events": ["event.created"]}),
    )
    .await
    .unwrap();
    assert_eq!(hook.status(), StatusCode::CREATED);

    for _ in 0..EVENTS {
        let created = post(
            "/api/v1/events",
            Some(&camera_token),
            json!({"triggered_by": "motion"}),
        )
        .await
        .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    // Kill it in the middle of the batch.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < EVENTS / 5 {
        assert!(tokio::time::Instant::now() < deadline, "deliveries started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let delivered_before = seen.lock().unwrap().len();
    assert!(
        delivered_before < EVENTS,
        "killed before the end: {delivered_before}"
    );
    let db = open(database_url).await;
    let in_flight = ids_in(db.as_ref(), owner, DeliveryStatus::Sending).await;
    let sent_before = ids_in(db.as_ref(), owner, DeliveryStatus::Sent).await;
    db.close().await;
    assert!(!in_flight.is_empty(), "jobs were in flight at the kill");
    assert!(sent_before.len() < EVENTS);

    // Started again: every job is delivered, the ones in flight again.
    let (server, base, _, _) = serve_with(dir.path(), &args, &env);
    let db = open(database_url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let sent = ids_in(db.as_ref(), owner, DeliveryStatus::Sent).await;
        if sent.len() == EVENTS {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {EVENTS} delivered after the restart",
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for status in [
        DeliveryStatus::Sending,
        DeliveryStatus::Pending,
        DeliveryStatus::Failed,
        DeliveryStatus::Dead,
    ] {
        assert!(
            ids_in(db.as_ref(), owner, status).await.is_empty(),
            "{status:?}"
        );
    }
    let all = ids_in(db.as_ref(), owner, DeliveryStatus::Sent).await;
    let counts = seen.lock().unwrap().clone();
    let received: HashSet<String> = counts.keys().cloned().collect();
    assert_eq!(
        received, all,
        "every job reached the receiver, under its own id"
    );
    let twice: Vec<&String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    for id in &twice {
        assert!(
            in_flight.contains(*id),
            "{id} was delivered twice but was not in flight at the kill"
        );
    }
    assert!(counts.values().all(|n| *n <= 2));
    db.close().await;
    let _ = base;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_on_postgres() {
    let database = TestDatabase::create().await;
    killed_mid_batch_then_everything_is_delivered(database.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/crash.db", dir.path().display());
    killed_mid_batch_then_everything_is_delivered(&url).await;
}
