//! `interop/push_receiver.py`: a Web Push subscriber and a webhook receiver written
//! independently of SecureCam (Python's `http_ece`, `cryptography` and `standardwebhooks`),
//! which decrypts every push, checks its VAPID signature and checks every webhook's
//! signature. Runs on `SECURECAM_TEST_PYTHON` (the test command installs what it needs).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Receiver {
    pub url: String,
    /// Browser-like `PushSubscription`s, as JSON text (a `webpush` device's push token).
    pub subscriptions: Vec<String>,
    client: reqwest::Client,
    _child: Child,
}

impl Receiver {
    /// Starts the receiver with `subscriptions` subscriptions.
    pub async fn start(subscriptions: usize) -> Receiver {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/push_receiver.py");
        let mut child = Command::new(crate::aiortc::python())
            .args([script, &subscriptions.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("starting push_receiver.py (is SECURECAM_TEST_PYTHON set?)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the receiver starts within 30 s")
            .unwrap()
            .expect("the receiver prints where it listens");
        let hello: Value = serde_json::from_str(&first).unwrap();
        Receiver {
            url: hello["url"].as_str().unwrap().to_string(),
            subscriptions: hello["subscriptions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            client: reqwest::Client::new(),
            _child: child,
        }
    }

    /// Everything received so far.
    pub async fn received(&self) -> Vec<Value> {
        self.client
            .get(format!("{}/received", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn control(&self, body: Value) {
        let status = self
            .client
            .post(format!("{}/control", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 204);
    }

    /// The next requests to `path` are answered with `statuses`, in order.
    pub async fn answer(&self, path: &str, statuses: &[u16]) {
        self.control(json!({"path": path, "statuses": statuses}))
            .await;
    }

    /// Webhooks to `path` are verified with `secret`.
    pub async fn secret(&self, path: &str, secret: &str) {
        self.control(json!({"path": path, "secret": secret})).await;
    }

    /// Every answer to `path` waits this long.
    pub async fn delay(&self, path: &str, millis: u64) {
        self.control(json!({"path": path, "delay_ms": millis}))
            .await;
    }
}
