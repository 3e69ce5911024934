//! Start-up and shutdown of a SecureCam server: build everything from [`Settings`], bind the
//! listener (port 0 in tests), run until a shutdown future resolves, then drain and close.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Json, Router};
use securecam_media_relay::core::RelayEvent;
use securecam_media_relay::driver::{self, RelayHandle, RelayTask};
use securecam_media_relay::http::{self as media_http, MediaHttp};
use securecam_media_relay::metrics as relay_metrics;
use securecam_recorder::service::{self as recorder, RecorderReport, RecorderTask};
use securecam_recorder::store::ClipStore;
use securecam_signal::bus::Bus;
use securecam_signal::error::problem_for_bare_errors;
use securecam_signal::mail::{LogMailer, Mailer, SmtpMailer};
use securecam_signal::media::MediaConfig;
use securecam_signal::relay_link::{self, RelayIdentity, ReportTo};
use securecam_signal::routes::ops;
use securecam_signal::types::links::KnownHosts;
use securecam_signal::ws::hub::close;
use securecam_signal::{inbound, jobs, reactions, AppState, Core};
use securecam_storage::Database;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::components::Component;
use crate::serve::{self as listeners, HttpsRedirect, Listener};
use crate::settings::Settings;
use crate::tls::routes::{TlsInfo, TlsView};
use crate::tls::{self, Tls, TlsMode};
use crate::{database, keys, telemetry};

/// JSON API bodies are small; anything bigger is refused before it is read.
const MAX_BODY_BYTES: usize = 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Application {
    listener: TcpListener,
    /// HTTPS, when it is on and its port could be bound.
    https: Option<Listener>,
    /// Keeps the HTTPS certificate current (re-issue, re-read, renew).
    tls_refresh: Option<tls::Refresh>,
    /// Where a phone opens the app over HTTPS, for the startup log.
    https_urls: Vec<String>,
    /// The local CA's fingerprint, for the startup log (to compare with what a phone shows).
    ca_sha256: Option<String>,
    /// ACME HTTP-01 answers, on the HTTP listener.
    http01: Option<tls::acme::Http01Answers>,
    /// Timeouts and connection caps of both listeners.
    connection_limits: listeners::ConnectionLimits,
    router: Router,
    db: Arc<dyn Database>,
    components: Vec<Component>,
    public_url: String,
    session_idle_timeout: Duration,
    /// This node's end of the bus to the other nodes (goes nowhere on SQLite).
    bus: Arc<Bus>,
    /// The signal component's state: its WebSockets are closed at shutdown and its sweeps
    /// run alongside the server.
    signal: Option<AppState>,
    /// The media relay's task, and what keeps it registered and reports its events.
    relay: Option<RelayParts>,
    /// The recorder's task and its reports.
    recorder: Option<RecorderParts>,
    /// What the services need, for a recorder without signal in its process: it announces
    /// its clips through it (it serves no routes, so it builds nothing else of signal's).
    reporter: Option<Core>,
    /// The notifier, which works the delivery queue.
    notifier: Option<securecam_notifier::Notifier>,
}

struct RelayParts {
    task: RelayTask,
    handle: RelayHandle,
    events: mpsc::Receiver<RelayEvent>,
    identity: RelayIdentity,
}

struct RecorderParts {
    task: RecorderTask,
    handle: recorder::RecorderHandle,
    reports: mpsc::Receiver<RecorderReport>,
}

impl Application {
    /// Everything but the mailer from settings: SMTP when configured, else the log.
    pub async fn build(settings: Settings, components: Vec<Component>) -> anyhow::Result<Self> {
        let mailer: Arc<dyn Mailer> = match &settings.smtp {
            Some(smtp) => Arc::new(SmtpMailer::new(smtp).context("SMTP settings")?),
            None => Arc::new(LogMailer),
        };
        Self::build_with_mailer(settings, components, mailer).await
    }

    pub async fn build_with_mailer(
        settings: Settings,
        components: Vec<Component>,
        mailer: Arc<dyn Mailer>,
    ) -> anyhow::Result<Self> {
        let has = |c: Component| components.contains(&c);
        // Without a configured public URL, links follow the host each request came in on.
        let links_follow_requests = settings.public_url.is_none();
        let (listener, settings) = bind(settings).await?;
        let (mut tls, https) = bind_https(&settings).await?;
        let tls_refresh = tls.as_mut().and_then(Tls::take_refresh);
        let http01 = tls.as_ref().and_then(|tls| tls.http01.clone());
        let database_url = settings.database_url();
        let db = database::open(&database_url, settings.database_max_connections).await?;
        if settings.auto_migrate {
            db.migrate().await.context("applying migrations")?;
        }
        let keys = keys::load_or_create(&settings.data_dir)?;
        let mut signal_config = settings.signal_config();
        signal_config.vapid_public_key = Some(keys.vapid.public_key());
        if links_follow_requests {
            signal_config.links_from_request = Some(link_hosts(&settings, tls.as_ref()));
        }
        let tls_view = tls_view(&settings, tls.as_ref(), https.as_ref());
        let TlsInfo {
            https_urls,
            ca_sha256,
            ..
        } = tls_view.info();
        let bus = Arc::new(Bus::new(db.pubsub()));

        let notifier = match has(Component::Notifier) {
            true => Some(
                securecam_notifier::Notifier::new(
                    db.clone(),
                    settings.notifier_config(),
                    keys.vapid.clone(),
                )
                .map_err(|e| anyhow::anyhow!("notifier settings: {e}"))?,
            ),
            false => None,
        };
        // The relay binds its UDP port first: signal hands out its endpoints.
        let relay = match has(Component::Relay) {
            true => Some(start_relay(&settings, db.as_ref(), has(Component::Signal)).await?),
            false => None,
        };
        // Clips: written by the recorder, served and deleted by signal.
        let clips = match has(Component::Signal) || has(Component::Recorder) {
            true => Some(open_clips(&settings)?),
            false => None,
        };
        let recorder = match (has(Component::Recorder), &clips) {
            (true, Some(clips)) => Some(start_recorder(
                &settings,
                &db,
                clips,
                has(Component::Signal),
            )),
            _ => None,
        };
        let media = MediaConfig {
            signing_key: Arc::new(keys.media_signing.clone()),
            ice_urls: settings.turn.urls(),
            turn_secret: settings.turn.secret.clone(),
            relay: relay.as_ref().map(|parts| parts.handle.clone()),
            recorder: recorder.as_ref().map(|parts| parts.handle.clone()),
            clips,
            // The relay's routes are served by this process's HTTP server.
            local_relay: relay
                .as_ref()
                .zip(listener.local_addr().ok())
                .map(|(parts, bound)| (parts.identity.id, loopback_url(bound))),
        };

        let mut router = Router::new()
            .merge(tls::routes::router(tls_view))
            .merge(ops::router(
                db.clone(),
                telemetry::metrics_handle(),
                relay
                    .iter()
                    .map(|parts| relay_metrics_source(&parts.handle))
                    .collect(),
            ));
        if let Some(parts) = &relay {
            let links = media.clone();
            router = router.merge(media_http::router(MediaHttp {
                relay: parts.handle.clone(),
                verifying_key: keys.media_signing.verifying_key(),
                ice_links: Arc::new(move |device| links.ice_links(device, chrono::Utc::now())),
            }));
        }
        let mut signal = None;
        let mut reporter = None;
        if has(Component::Signal) {
            let state = AppState::new(db.clone(), signal_config, mailer, media, bus.clone())?;
            signal = Some(state.clone());
            router = router.merge(signal_routes(state, &settings));
        } else if has(Component::Recorder) {
            // A recorder without signal in its process hears of cameras and events on the bus
            // and announces its clips through it.
            reporter = Some(Core::new(
                db.clone(),
                signal_config,
                media,
                bus.clone(),
                None,
            ));
        }
        let router = router
            .route_layer(middleware::from_fn(ops::track_metrics))
            .fallback(securecam_signal::routes::not_found)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            .layer(CatchPanicLayer::new())
            .layer(middleware::from_fn(problem_for_bare_errors))
            .layer(TraceLayer::new_for_http());

        tracing::debug!(database = %database::redact_url(&database_url), backend = db.backend(), "database open");
        Ok(Application {
            listener,
            https,
            tls_refresh,
            https_urls,
            ca_sha256,
            http01,
            connection_limits: settings.http.clone(),
            router,
            db,
            components,
            public_url: settings.public_url(),
            session_idle_timeout: settings.signal.session_idle_timeout,
            bus,
            signal,
            relay,
            recorder,
            reporter,
            notifier,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Where HTTPS listens, when it does.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().and_then(|l| l.tcp.local_addr().ok())
    }

    pub fn db(&self) -> Arc<dyn Database> {
        self.db.clone()
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests
    /// finish, stops background tasks and closes the database.
    ///
    /// Every background task watches one cancellation token and is spawned on one tracker,
    /// so shutdown is: cancel, then wait for the tracker.
    pub async fn run_until_stopped(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let stopped = || stop.clone().cancelled_owned();

        tasks.spawn(jobs::sweep_credentials(
            self.db.clone(),
            self.session_idle_timeout,
            stopped(),
        ));
        if let Some(state) = &self.signal {
            let interval = state.config().command_sweep_interval();
            tasks.spawn(jobs::sweep(state.core().clone(), interval, stopped()));
            // Other signal nodes on the same PostgreSQL (a no-op on SQLite).
            tasks.spawn(inbound::listen(state.clone(), stopped()));
        }
        if let Some(parts) = self.relay.take() {
            let finished = parts
                .task
                .spawn_thread(stopped())
                .context("starting the media relay's thread")?;
            tasks.spawn(finished);
            let report_to = match &self.signal {
                Some(state) => ReportTo::Signal(state.core().clone()),
                None => ReportTo::Bus(self.bus.clone()),
            };
            tasks.spawn(relay_link::run(
                self.db.clone(),
                parts.handle,
                parts.identity,
                parts.events,
                report_to,
                stopped(),
            ));
        }
        if let Some(parts) = self.recorder.take() {
            if self.signal.is_none() {
                tasks.spawn(inbound::listen_as_recorder(
                    self.bus.clone(),
                    parts.handle.clone(),
                    stopped(),
                ));
            }
            tasks.spawn(parts.task.run(stopped()));
            let core = self
                .signal
                .as_ref()
                .map(|state| state.core().clone())
                .or(self.reporter.clone());
            // Ends when the recorder's task does (it holds the sending side).
            let mut reports = parts.reports;
            tasks.spawn(async move {
                while let Some(report) = reports.recv().await {
                    if let Some(core) = &core {
                        reactions::recorder::on_report(core, report).await;
                    }
                }
            });
        }
        if let Some(notifier) = self.notifier.take() {
            tasks.spawn(notifier.run(stopped()));
        }

        if let Some(refresh) = self.tls_refresh.take() {
            tasks.spawn(refresh(stop.clone()));
        }
        tasks.close();

        let names: Vec<&str> = self.components.iter().map(|c| c.name()).collect();
        tracing::info!(
            components = %names.join(","),
            listen = %self.local_addr(),
            https = %self.https_addr().map(|a| a.to_string()).unwrap_or_else(|| "off".into()),
            "SecureCam is running: open {}",
            self.public_url
        );
        if !self.https_urls.is_empty() {
            let trust = match &self.ca_sha256 {
                Some(sha256) => format!(
                    " (the first time, follow \"Trust this server\": its CA's SHA-256 fingerprint is {sha256})"
                ),
                None => String::new(),
            };
            tracing::info!(
                "on a phone on this network, open {}{trust}",
                self.https_urls
                    .iter()
                    .map(|url| format!("{url}/camera"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
        }
        // Both listeners stop accepting when shutdown comes; WebSockets are told to go.
        let stopping = CancellationToken::new();
        tasks.spawn({
            let stopping = stopping.clone();
            let hub = self.signal.as_ref().map(|state| state.hub().clone());
            let stop = stop.clone();
            async move {
                tokio::select! {
                    _ = shutdown => tracing::info!("shutting down: finishing in-flight requests"),
                    _ = stop.cancelled() => {}
                }
                stopping.cancel();
                // Upgraded WebSockets are not requests the server waits for: tell them.
                if let Some(hub) = hub {
                    hub.close_all(close::GOING_AWAY, "server shutting down");
                }
            }
        });
        let mut http_router = self.router.clone();
        if let Some(answers) = &self.http01 {
            http_router = http_router.merge(answers.router());
        }
        let http_router = match &self.https {
            Some(https) => http_router.layer(middleware::from_fn_with_state(
                HttpsRedirect {
                    https_port: https.tcp.local_addr()?.port(),
                },
                listeners::redirect_pages_to_https,
            )),
            None => http_router,
        };
        // One count of open connections for both listeners.
        let admission = listeners::Admission::new(self.connection_limits.clone());
        let http = listeners::serve(
            Listener {
                tcp: self.listener,
                tls: None,
            },
            http_router,
            admission.clone(),
            stopping.clone().cancelled_owned(),
        );
        let https = async {
            match self.https {
                Some(https) => {
                    listeners::serve(
                        https,
                        self.router,
                        admission.clone(),
                        stopping.clone().cancelled_owned(),
                    )
                    .await
                }
                None => Ok(()),
            }
        };
        let (http, https) = tokio::join!(http, https);
        let result = http.and(https);
        stop.cancel();
        tasks.wait().await;
        self.db.close().await;
        tracing::info!("stopped");
        result.context("HTTP server")
    }
}

/// Creates the data directories and binds the listener first: with port 0 (tests) the links
/// the API hands out need the real port.
async fn bind(mut settings: Settings) -> anyhow::Result<(TcpListener, Settings)> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    if let Some(dir) = settings.storage_url().strip_prefix("file://") {
        std::fs::create_dir_all(dir).with_context(|| format!("creating object directory {dir}"))?;
    }
    let listener = TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("binding {}", settings.http_addr))?;
    if settings.public_url.is_none() {
        let port = listener.local_addr()?.port();
        settings.public_url = Some(format!("http://localhost:{port}"));
    }
    Ok((listener, settings))
}

/// Sets up HTTPS and binds its listener. When the default port is taken the server starts
/// without HTTPS (a warning says so); an address set explicitly that cannot be bound is an
/// error.
async fn bind_https(settings: &Settings) -> anyhow::Result<(Option<Tls>, Option<Listener>)> {
    if settings.tls.mode == TlsMode::Off {
        return Ok((None, None));
    }
    let addr = settings
        .https_addr
        .unwrap_or(SocketAddr::from(([0, 0, 0, 0], tls::DEFAULT_HTTPS_PORT)));
    let tcp = match TcpListener::bind(addr).await {
        Ok(tcp) => tcp,
        Err(err) if settings.https_addr.is_none() => {
            tracing::warn!(
                error = %err,
                "HTTPS is off: the default port {addr} is taken (set SECURECAM_HTTPS_ADDR to \
                 another address); phones cannot use their camera over plain HTTP"
            );
            return Ok((None, None));
        }
        Err(err) => return Err(err).with_context(|| format!("binding HTTPS on {addr}")),
    };
    let Some(tls) = Tls::start(&settings.tls, &settings.data_dir)
        .await
        .context("setting up HTTPS")?
    else {
        return Ok((None, None));
    };
    let listener = Listener {
        tcp,
        tls: Some(tls.server_config.clone()),
    };
    Ok((Some(tls), Some(listener)))
}

/// The hosts links may follow (see `securecam_signal::types::links`): the names of the
/// local certificate, kept current with it, or this machine's names beside the
/// certificate's in the other modes.
fn link_hosts(settings: &Settings, tls: Option<&Tls>) -> KnownHosts {
    match tls {
        Some(tls) if tls.mode == TlsMode::SelfSigned => tls.names.clone(),
        _ => {
            let extra = tls::split_list(settings.tls.extra_names.as_deref());
            let mut names = tls::names::local_names(&extra);
            names.extend(tls.map(Tls::names).unwrap_or_default());
            KnownHosts::new(names)
        }
    }
}

/// What `/api/v1/tls` and `/ca.pem` show.
fn tls_view(settings: &Settings, tls: Option<&Tls>, https: Option<&Listener>) -> TlsView {
    let https_port = https
        .and_then(|l| l.tcp.local_addr().ok())
        .map(|a| a.port());
    let names: Arc<dyn Fn() -> Vec<String> + Send + Sync> = match tls {
        Some(tls) if !tls.names().is_empty() => {
            let hosts = tls.names_handle();
            Arc::new(move || hosts.read().unwrap_or_else(|e| e.into_inner()).clone())
        }
        // A certificate from files covers names this server cannot know without parsing
        // it; offer its own names (the public URL, when set, comes first).
        _ => {
            let extra = tls::split_list(settings.tls.extra_names.as_deref());
            let names = tls::names::local_names(&extra);
            Arc::new(move || names.clone())
        }
    };
    TlsView {
        mode: tls.map_or(TlsMode::Off, |tls| tls.mode),
        ca: tls.and_then(|tls| tls.ca.clone()),
        names,
        https_port,
        public_https_url: settings
            .public_url
            .as_deref()
            .filter(|url| url.starts_with("https://"))
            .map(|url| url.trim_end_matches('/').to_string()),
    }
}

/// Binds the relay's UDP port and registers it, so a signal in this process finds it for the
/// very first stream.
async fn start_relay(
    settings: &Settings,
    db: &dyn Database,
    with_signal: bool,
) -> anyhow::Result<RelayParts> {
    let (events, events_rx) = mpsc::channel(driver::EVENT_QUEUE);
    let bind = SocketAddr::from(([0, 0, 0, 0], settings.relay_udp_port));
    let (handle, task) = driver::start(
        bind,
        settings.relay.public_ip,
        settings.relay.core(),
        events,
    )
    .await?;
    tracing::debug!(udp = %handle.udp_addr(), "media relay bound");
    let identity = relay_identity(settings, &handle);
    relay_link::register(db, &identity)
        .await
        .context("registering the media relay")?;
    if !with_signal && db.pubsub().is_none() {
        tracing::warn!(
            "the relay runs without signal on a database with no bus (SQLite): \
             signal in another process will not hear from it; use PostgreSQL"
        );
    }
    Ok(RelayParts {
        task,
        handle,
        events: events_rx,
        identity,
    })
}

/// The relay's counters for `/metrics`.
fn relay_metrics_source(handle: &RelayHandle) -> ops::MetricsSource {
    let source = handle.clone();
    Arc::new(move || {
        let source = source.clone();
        Box::pin(async move {
            source
                .snapshot()
                .await
                .map(|s| relay_metrics::render(&s))
                .unwrap_or_default()
        })
    })
}

fn open_clips(settings: &Settings) -> anyhow::Result<ClipStore> {
    let url = settings.storage_url();
    ClipStore::from_url(&url, settings.storage.s3_options())
        .with_context(|| format!("opening clip storage {url}"))
}

fn start_recorder(
    settings: &Settings,
    db: &Arc<dyn Database>,
    clips: &ClipStore,
    with_signal: bool,
) -> RecorderParts {
    if !with_signal && db.pubsub().is_none() {
        tracing::warn!(
            "the recorder runs without signal on a database with no bus (SQLite): it \
             will hear of no camera or event; use PostgreSQL"
        );
    }
    let (reports, reports_rx) = mpsc::channel(recorder::REPORT_QUEUE);
    let (handle, task) = recorder::start(
        db.clone(),
        clips.clone(),
        settings.recorder.config(),
        reports,
    );
    RecorderParts {
        task,
        handle,
        reports: reports_rx,
    }
}

/// The API, its OpenAPI document and reference page, and the web app.
fn signal_routes(state: AppState, settings: &Settings) -> Router {
    let (api, mut openapi) = securecam_signal::router(state);
    openapi.merge(<tls::routes::TlsApi as utoipa::OpenApi>::openapi());
    let openapi_json = openapi;
    Router::new()
        .merge(api)
        .route(
            "/openapi.json",
            get(move || async move { Json(openapi_json) }),
        )
        // Only tells the page where the document is: `/openapi.json` is served above.
        .merge(
            Router::from(
                SwaggerUi::new("/docs").config(
                    Config::new(["/openapi.json"])
                        .use_base_layout()
                        .validator_url("none"),
                ),
            )
            // The same origin holds the app's tokens: the reference page runs under the
            // app's content security policy.
            .layer(middleware::map_response(crate::web::with_page_headers)),
        )
        .merge(crate::web::router(settings.web_dir.clone()))
}

/// A loopback URL of the HTTP server bound at `bound` (the recorder here watches the relay
/// here through it).
fn loopback_url(bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, bound.port()))
}

/// Who the relay in this process registers as: its own public URL when it runs alone, the
/// server's otherwise (its routes are merged into the same HTTP server either way).
fn relay_identity(settings: &Settings, handle: &RelayHandle) -> RelayIdentity {
    let name = settings.relay.name.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "relay".to_string())
    });
    RelayIdentity {
        id: securecam_storage::new_id(),
        name,
        public_url: settings
            .relay
            .public_url
            .clone()
            .unwrap_or_else(|| settings.public_url()),
        // The first candidate is the public (or outbound) address of the UDP port.
        udp_endpoint: handle.factory().candidates().first().map(|a| a.to_string()),
        heartbeat: Duration::from_secs(settings.relay.heartbeat_secs.max(1)),
    }
}

/// A future that resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed now, not
/// when the future is first polled, so a signal that arrives during start-up is not lost (it
/// would otherwise kill the process with the default action instead of shutting down cleanly).
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
