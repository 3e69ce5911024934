//! The harness of SecureCam's end-to-end tests: [`spawn_app`] builds a real server on port 0
//! with a fresh database of the chosen backend, and [`TestApp`] talks to it over HTTP.
//! Every story runs against both backends through [`both_backends!`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use securecam::{Application, Component, Settings};
use securecam_signal::mail::{Mail, MemoryMailer};
use securecam_storage::Database;
use securecam_storage_postgres::testing::TestDatabase;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub mod aiortc;
pub mod media;
pub mod probe;
pub mod push;
pub mod receiver;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named story as two tests, `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($story:ident),+ $(,)?) => {
        $(
            mod $story {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$story($crate::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$story($crate::Backend::Postgres).await
                }
            }
        )+
    };
}

/// Where a test's database lives; dropped with the app.
enum TestStore {
    Sqlite,
    Postgres(#[allow(dead_code)] TestDatabase),
}

pub struct TestApp {
    pub address: SocketAddr,
    /// Where HTTPS listens (on loopback; the local CA's certificate also names
    /// [`LAN_NAME`]).
    pub https_address: Option<SocketAddr>,
    pub base_url: String,
    pub client: reqwest::Client,
    pub db: Arc<dyn Database>,
    pub mailer: MemoryMailer,
    pub backend: Backend,
    settings: Settings,
    components: Vec<Component>,
    server: ServerTask,
    _data_dir: tempfile::TempDir,
    _store: TestStore,
}

/// A name a phone on the home network might reach the server by: the local certificate of
/// every test server covers it, and tests map it to 127.0.0.1 (never a real lookup).
pub const LAN_NAME: &str = "camera.home.arpa";

/// A server with default settings on a fresh database.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// A server whose settings `configure` may change first.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_components(backend, &Component::ALL, configure).await
}

/// A server running only `components` (say signal alone, with the relay in another process
/// started by [`TestApp::spawn_node`]).
pub async fn spawn_components(
    backend: Backend,
    components: &[Component],
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        https_addr: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: data_dir.path().to_path_buf(),
        relay_udp_port: 0,
        ..Settings::default()
    };
    settings.tls.extra_names = Some(LAN_NAME.to_string());
    // Tests send traffic to 127.0.0.0/8 only: the relay offers loopback candidates alone,
    // never this machine's own address.
    settings.relay.public_ip = Some(std::net::Ipv4Addr::LOCALHOST.into());
    let store = match backend {
        Backend::Sqlite => TestStore::Sqlite,
        Backend::Postgres => {
            let db = TestDatabase::create().await;
            settings.database_url = Some(db.url().to_string().into());
            TestStore::Postgres(db)
        }
    };
    configure(&mut settings);
    let mailer = MemoryMailer::default();
    let running = start(settings.clone(), components, &mailer).await;
    TestApp {
        address: running.address,
        https_address: running.https_address,
        base_url: format!("http://{}", running.address),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db: running.db,
        mailer,
        backend,
        settings,
        components: components.to_vec(),
        server: running.server,
        _data_dir: data_dir,
        _store: store,
    }
}

struct Running {
    address: SocketAddr,
    https_address: Option<SocketAddr>,
    db: Arc<dyn Database>,
    server: ServerTask,
}

/// A server running in this test process: stopped gracefully on demand, aborted when dropped.
struct ServerTask {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl ServerTask {
    /// Shuts the server down as SIGTERM would, and checks it stopped cleanly.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn start(settings: Settings, components: &[Component], mailer: &MemoryMailer) -> Running {
    let app =
        Application::build_with_mailer(settings, components.to_vec(), Arc::new(mailer.clone()))
            .await
            .expect("application builds");
    let address = app.local_addr();
    let https_address = app.https_addr();
    let db = app.db();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    Running {
        address,
        https_address,
        db,
        server: ServerTask {
            stop: Some(stop),
            task: Some(task),
        },
    }
}

impl TestApp {
    /// The server's data directory (keys, certificates, SQLite).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.settings.data_dir
    }

    /// Stops the server gracefully (as SIGTERM would); checks it stopped cleanly.
    pub async fn stop(mut self) {
        self.server.stop().await;
    }

    /// [`Self::restart`] with settings changed by `configure` first.
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut Settings)) {
        configure(&mut self.settings);
        self.restart().await;
    }

    /// Stops the server gracefully and starts a new one on the same database and data
    /// directory (on a new port), as an operator's restart would.
    pub async fn restart(&mut self) {
        self.server.stop().await;
        let running = start(self.settings.clone(), &self.components, &self.mailer).await;
        self.address = running.address;
        self.https_address = running.https_address;
        self.base_url = format!("http://{}", running.address);
        self.db = running.db;
        self.server = running.server;
    }
}

/// Another process of the same deployment as a [`TestApp`]: same database, same keys, its
/// own port and its own `public_url`.
pub struct TestNode {
    pub address: SocketAddr,
    /// Its `public_url` (what it registers and signal hands out).
    pub base_url: String,
    server: ServerTask,
}

impl TestApp {
    pub async fn spawn_node(&self, components: &[Component]) -> TestNode {
        let settings = Settings {
            http_addr: "127.0.0.1:0".parse().unwrap(),
            public_url: None,
            ..self.settings.clone()
        };
        let running = start(settings, components, &self.mailer).await;
        TestNode {
            address: running.address,
            base_url: format!("http://localhost:{}", running.address.port()),
            server: running.server,
        }
    }
}

impl TestNode {
    /// Shuts the node down gracefully, as SIGTERM would.
    pub async fn stop(mut self) {
        self.server.stop().await;
    }
}

/// A user signed up through the API.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

/// A device created through the API.
#[derive(Debug, Clone)]
pub struct TestDevice {
    pub id: String,
    pub token: String,
    pub body: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token, None).await
    }

    pub async fn sign_up(&self, email: &str) -> TestUser {
        let password = format!("pw-{email}-long");
        let response = self
            .post(
                "/api/v1/auth/sign-up",
                None,
                &json!({"email": email, "password": password, "name": "Test User"}),
            )
            .await;
        let body = expect_json(response, StatusCode::CREATED).await;
        TestUser {
            id: body["user"]["id"].as_str().unwrap().to_string(),
            email: email.to_string(),
            password,
            token: body["session"]["token"].as_str().unwrap().to_string(),
        }
    }

    pub async fn create_device(&self, user_token: &str, name: &str, role: &str) -> TestDevice {
        let response = self
            .post(
                "/api/v1/devices",
                Some(user_token),
                &json!({"name": name, "role": role, "platform": "android", "app_version": "1.0"}),
            )
            .await;
        let body = expect_json(response, StatusCode::CREATED).await;
        TestDevice {
            id: body["device"]["id"].as_str().unwrap().to_string(),
            token: body["device_token"].as_str().unwrap().to_string(),
            body: body["device"].clone(),
        }
    }

    /// Waits (up to 10 s) for the `n`th mail to arrive in the outbox.
    pub async fn wait_for_mail(&self, n: usize) -> Mail {
        for _ in 0..200 {
            if let Some(mail) = self.mailer.sent().get(n - 1) {
                return mail.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("mail #{n} never arrived");
    }

    /// The URL the server puts in links and endpoints.
    /// The server's clip storage, as it configured it.
    pub fn clip_store(&self) -> securecam_recorder::store::ClipStore {
        securecam_recorder::store::ClipStore::from_url(
            &self.settings.storage_url(),
            self.settings.storage.s3_options(),
        )
        .expect("the server's clip storage")
    }

    /// The local CA's certificate (PEM) under the server's data directory.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.settings.data_dir.join("tls/ca.pem"))
            .expect("the server made its local CA")
    }

    /// `https://<LAN_NAME>:<port><path>`: the server over HTTPS by a name a phone would use.
    pub fn https_url(&self, path: &str) -> String {
        let port = self.https_address.expect("HTTPS is on").port();
        format!("https://{LAN_NAME}:{port}{path}")
    }

    /// A client that trusts only the server's local CA (no web roots, no exceptions) and
    /// finds [`LAN_NAME`] at the HTTPS listener on loopback.
    pub fn https_client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem().as_bytes()).unwrap();
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .resolve(LAN_NAME, self.https_address.expect("HTTPS is on"))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub fn settings_public_url(&self) -> String {
        self.settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{}", self.address.port()))
    }

    /// Shares `owner`'s `camera` with `friend`'s `device` by invite; the link.
    pub async fn share(
        &self,
        owner: &TestUser,
        camera: &TestDevice,
        friend: &TestUser,
        device: &TestDevice,
    ) -> Value {
        let invite = expect_json(
            self.post(
                "/api/v1/device-links/invites",
                Some(&owner.token),
                &json!({"camera_device_id": camera.id}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        expect_json(
            self.post(
                "/api/v1/device-links/invites/accept",
                Some(&friend.token),
                &json!({"code": invite["code"], "client_device_id": device.id}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await
    }

    /// The audit rows of `token`'s user, newest first.
    pub async fn audit_actions(&self, token: &str) -> Vec<String> {
        let body = expect_json(
            self.get("/api/v1/audit-logs?limit=200", Some(token)).await,
            StatusCode::OK,
        )
        .await;
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["action"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Asserts a problem document: status, content type, the stable `code`.
pub async fn expect_problem(response: Response, status: StatusCode, code: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = expect_json(response, status).await;
    assert_eq!(content_type, "application/problem+json", "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status.as_u16(), "body: {body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

/// The `id`s of a list page's items, in order.
pub fn item_ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("a page has items")
        .iter()
        .map(|item| item["id"].as_str().expect("items have ids"))
        .collect()
}

/// A WebSocket client connection to the app.
pub type WsClient =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl TestApp {
    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/api/v1/ws{query}", self.address)
    }

    /// Opens the device WebSocket with a bearer token; the HTTP status when refused.
    pub async fn ws_connect(
        &self,
        token: Option<&str>,
        query: &str,
    ) -> Result<WsClient, StatusCode> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self.ws_url(query).into_client_request().unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(stream),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(StatusCode::from_u16(response.status().as_u16()).unwrap())
            }
            Err(other) => panic!("WebSocket connect failed: {other}"),
        }
    }
}

impl TestApp {
    /// Opens the device's WebSocket and reads its `hello`.
    pub async fn connect_device(&self, token: &str) -> WsClient {
        let mut ws = self.ws_connect(Some(token), "").await.expect("connects");
        assert_eq!(ws_next_json(&mut ws).await["type"], "hello");
        ws
    }
}

/// The next JSON frame (skipping control frames), within 5 s.
pub async fn ws_next_json(ws: &mut WsClient) -> Value {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the connection is open")
            .expect("a valid frame");
        match frame {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }
}

/// Waits for the server to close the connection; its close code.
pub async fn ws_close_code(ws: &mut WsClient) -> u16 {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("closed within 5 s");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => return u16::from(close.code),
            Some(Ok(Message::Close(None))) | None => return 1005,
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("connection failed instead of closing: {e}"),
        }
    }
}

/// Sends one text frame.
pub async fn ws_send(ws: &mut WsClient, text: &str) {
    use futures::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(text))
        .await
        .expect("frame sent");
}

/// The next JSON frame of type `kind`, skipping others (presence, say), within 5 s.
pub async fn ws_next_of_type(ws: &mut WsClient, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws_next_json(ws))
            .await
            .unwrap_or_else(|_| panic!("no {kind} frame within 5 s"));
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// Asserts that no frame of type `kind` arrives within `wait` (other frames are skipped).
pub async fn ws_expect_none_of_type(ws: &mut WsClient, kind: &str, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(frame) = tokio::time::timeout_at(deadline, ws_next_json(ws)).await {
        assert_ne!(frame["type"], kind, "unexpected frame {frame}");
    }
}
