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
use securecam_signal::commands;
use securecam_signal::error::problem_for_bare_errors;
use securecam_signal::mail::{LogMailer, Mailer, SmtpMailer};
use securecam_signal::media::MediaConfig;
use securecam_signal::relay_link::{self, RelayIdentity, ReportTo};
use securecam_signal::routes::ops;
use securecam_signal::ws::hub::close;
use securecam_signal::AppState;
use securecam_storage::Database;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_scalar::{Scalar, Servable};

use crate::components::Component;
use crate::settings::Settings;
use crate::{database, keys, telemetry};

/// JSON API bodies are small; anything bigger is refused before it is read.
const MAX_BODY_BYTES: usize = 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often expired sessions are swept out.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

pub struct Application {
    listener: TcpListener,
    router: Router,
    db: Arc<dyn Database>,
    components: Vec<Component>,
    public_url: String,
    session_idle_timeout: Duration,
    /// The signal component's state: its WebSockets are closed at shutdown and its command
    /// sweeper runs alongside the server.
    signal: Option<AppState>,
    /// The media relay's task, and what keeps it registered and reports its events.
    relay: Option<RelayParts>,
    /// The recorder's task and its reports (for signal in this process).
    recorder: Option<(RecorderTask, mpsc::UnboundedReceiver<RecorderReport>)>,
    /// For a recorder without signal in its process: signal's state, to hear the bus and
    /// announce clips through it (it serves no routes).
    reporter: Option<AppState>,
    /// The notifier, which works the delivery queue.
    notifier: Option<securecam_notifier::Notifier>,
}

struct RelayParts {
    task: RelayTask,
    handle: RelayHandle,
    events: mpsc::UnboundedReceiver<RelayEvent>,
    identity: RelayIdentity,
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
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
        if let Some(dir) = settings.storage_url().strip_prefix("file://") {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating object directory {dir}"))?;
        }
        // Bind first: with port 0 (tests) the links the API hands out need the real port.
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("binding {}", settings.http_addr))?;
        let mut settings = settings;
        if settings.public_url.is_none() {
            let port = listener.local_addr()?.port();
            settings.public_url = Some(format!("http://localhost:{port}"));
        }
        let database_url = settings.database_url();
        let db = database::open(&database_url, settings.database_max_connections).await?;
        if settings.auto_migrate {
            db.migrate().await.context("applying migrations")?;
        }
        let keys = keys::load_or_create(&settings.data_dir)?;
        let mut signal_config = settings.signal_config();
        signal_config.vapid_public_key = Some(keys.vapid.public_key());
        let notifier = if components.contains(&Component::Notifier) {
            Some(
                securecam_notifier::Notifier::new(
                    db.clone(),
                    settings.notifier_config(),
                    keys.vapid.clone(),
                )
                .map_err(|e| anyhow::anyhow!("notifier settings: {e}"))?,
            )
        } else {
            None
        };

        // The relay binds its UDP port first: signal hands out its endpoints.
        let mut relay = None;
        let mut metrics_sources: Vec<ops::MetricsSource> = Vec::new();
        if components.contains(&Component::Relay) {
            let (events, events_rx) = mpsc::unbounded_channel();
            let bind = SocketAddr::from(([0, 0, 0, 0], settings.relay_udp_port));
            let (handle, task) = driver::start(
                bind,
                settings.relay.public_ip,
                settings.relay.core(),
                events,
            )
            .await?;
            tracing::debug!(udp = %handle.udp_addr(), "media relay bound");
            let source = handle.clone();
            metrics_sources.push(Arc::new(move || {
                let source = source.clone();
                Box::pin(async move {
                    source
                        .snapshot()
                        .await
                        .map(|s| relay_metrics::render(&s))
                        .unwrap_or_default()
                })
            }));
            let identity = relay_identity(&settings, &handle);
            relay_link::register(db.as_ref(), &identity)
                .await
                .context("registering the media relay")?;
            if !components.contains(&Component::Signal) && db.pubsub().is_none() {
                tracing::warn!(
                    "the relay runs without signal on a database with no bus (SQLite): \
                     signal in another process will not hear from it; use PostgreSQL"
                );
            }
            relay = Some(RelayParts {
                task,
                handle,
                events: events_rx,
                identity,
            });
        }
        // Clips: written by the recorder, served and deleted by signal.
        let clips = if components.contains(&Component::Signal)
            || components.contains(&Component::Recorder)
        {
            let url = settings.storage_url();
            Some(
                ClipStore::from_url(&url, settings.storage.s3_options())
                    .with_context(|| format!("opening clip storage {url}"))?,
            )
        } else {
            None
        };
        let mut recorder_parts = None;
        let mut recorder_handle = None;
        if let (true, Some(clips)) = (components.contains(&Component::Recorder), &clips) {
            if !components.contains(&Component::Signal) && db.pubsub().is_none() {
                tracing::warn!(
                    "the recorder runs without signal on a database with no bus (SQLite): it \
                     will hear of no camera or event; use PostgreSQL"
                );
            }
            let (reports, reports_rx) = mpsc::unbounded_channel();
            let (handle, task) = recorder::start(
                db.clone(),
                clips.clone(),
                settings.recorder.config(),
                reports,
            );
            recorder_handle = Some(handle);
            recorder_parts = Some((task, reports_rx));
        }
        let media = MediaConfig {
            signing_key: Arc::new(keys.media_signing.clone()),
            ice_urls: settings.turn.urls(),
            turn_secret: settings.turn.secret.clone(),
            relay: relay.as_ref().map(|parts| parts.handle.clone()),
            recorder: recorder_handle,
            clips,
            // The relay's routes are served by this process's HTTP server.
            local_relay: relay
                .as_ref()
                .zip(listener.local_addr().ok())
                .map(|(parts, bound)| {
                    let ip = match bound.ip() {
                        ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
                        ip => ip,
                    };
                    let local = SocketAddr::new(ip, bound.port());
                    (parts.identity.id, format!("http://{local}"))
                }),
        };

        let mut router = Router::new().merge(ops::router(
            db.clone(),
            telemetry::metrics_handle(),
            metrics_sources,
        ));
        if let Some(parts) = &relay {
            let links = media.clone();
            router = router.merge(media_http::router(MediaHttp {
                relay: parts.handle.clone(),
                verifying_key: keys.media_signing.verifying_key(),
                ice_links: Arc::new(move |device| links.ice_links(device, chrono::Utc::now())),
            }));
        }
        // A recorder without signal in its process still speaks signal's language on the bus:
        // it hears of cameras and events there and announces its clips through it.
        let mut reporter = None;
        if components.contains(&Component::Recorder) && !components.contains(&Component::Signal) {
            reporter = Some(AppState::new(
                db.clone(),
                signal_config.clone(),
                Arc::new(LogMailer),
                media.clone(),
            )?);
        }
        let mut signal = None;
        if components.contains(&Component::Signal) {
            let state = AppState::new(db.clone(), signal_config, mailer, media)?;
            signal = Some(state.clone());
            let (api, openapi) = securecam_signal::router(state);
            let openapi_json = openapi.clone();
            router = router
                .merge(api)
                .route(
                    "/openapi.json",
                    get(move || async move { Json(openapi_json) }),
                )
                .merge(Scalar::with_url("/docs", openapi))
                .merge(crate::web::router(settings.web_dir.clone()));
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
            router,
            db,
            components,
            public_url: settings.public_url(),
            session_idle_timeout: settings.signal.session_idle_timeout,
            signal,
            relay,
            recorder: recorder_parts,
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

    pub fn db(&self) -> Arc<dyn Database> {
        self.db.clone()
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests
    /// finish, stops background tasks and closes the database.
    pub async fn run_until_stopped(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let sweeper = tokio::spawn(sweep_expired(
            self.db.clone(),
            self.session_idle_timeout,
            stop_rx.clone(),
        ));
        let command_sweeper = self.signal.clone().map(|state| {
            let interval = state.config().command_sweep_interval();
            let mut stop = stop_rx.clone();
            tokio::spawn(commands::delivery::sweep(state, interval, async move {
                let _ = stop.changed().await;
            }))
        });
        // Other signal nodes on the same PostgreSQL (a no-op on SQLite).
        let bus_listener = self.signal.clone().or(self.reporter.clone()).map(|state| {
            let mut stop = stop_rx.clone();
            tokio::spawn(securecam_signal::bus::listen(state, async move {
                let _ = stop.changed().await;
            }))
        });

        let mut relay_tasks = Vec::new();
        if let Some(parts) = self.relay.take() {
            let mut stop = stop_rx.clone();
            let finished = parts
                .task
                .spawn_thread(async move {
                    let _ = stop.changed().await;
                })
                .context("starting the media relay's thread")?;
            relay_tasks.push(tokio::spawn(finished));
            let report_to = match &self.signal {
                Some(state) => ReportTo::Signal(state.clone()),
                None => ReportTo::Bus(Arc::new(Bus::new(self.db.pubsub()))),
            };
            let mut stop = stop_rx.clone();
            relay_tasks.push(tokio::spawn(relay_link::run(
                self.db.clone(),
                parts.handle,
                parts.identity,
                parts.events,
                report_to,
                async move {
                    let _ = stop.changed().await;
                },
            )));
        }

        if let Some((task, mut reports)) = self.recorder.take() {
            let mut stop = stop_rx.clone();
            relay_tasks.push(tokio::spawn(task.run(async move {
                let _ = stop.changed().await;
            })));
            let signal = self.signal.clone().or(self.reporter.clone());
            // Ends when the recorder's task does (it holds the sending side).
            relay_tasks.push(tokio::spawn(async move {
                while let Some(report) = reports.recv().await {
                    if let Some(state) = &signal {
                        securecam_signal::recording::on_report(state, report).await;
                    }
                }
            }));
        }

        if let Some(notifier) = self.notifier.take() {
            let mut stop = stop_rx.clone();
            relay_tasks.push(tokio::spawn(notifier.run(async move {
                let _ = stop.changed().await;
            })));
        }

        let names: Vec<&str> = self.components.iter().map(|c| c.name()).collect();
        tracing::info!(
            components = %names.join(","),
            listen = %self.local_addr(),
            "SecureCam is running: open {}",
            self.public_url
        );
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown({
            let hub = self.signal.as_ref().map(|state| state.hub().clone());
            async move {
                shutdown.await;
                tracing::info!("shutting down: finishing in-flight requests");
                // Upgraded WebSockets are not requests the server waits for: tell them.
                if let Some(hub) = hub {
                    hub.close_all(close::GOING_AWAY, "server shutting down");
                }
            }
        });
        let result = serve.await;
        let _ = stop_tx.send(true);
        let _ = sweeper.await;
        for task in [command_sweeper, bus_listener]
            .into_iter()
            .flatten()
            .chain(relay_tasks)
        {
            let _ = task.await;
        }
        self.db.close().await;
        tracing::info!("stopped");
        result.context("HTTP server")
    }
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

/// Hourly until stopped: deletes sessions past their absolute lifetime or idle timeout, and
/// one-time secrets past their expiry.
async fn sweep_expired(
    db: Arc<dyn Database>,
    idle_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let idle = chrono::Duration::from_std(idle_timeout).unwrap_or(chrono::Duration::MAX);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
            _ = stop.changed() => return,
        }
        let now = securecam_storage::now();
        match db.delete_stale_sessions(now, now - idle).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "swept stale sessions"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "session sweep failed"),
        }
        if let Err(err) = db.delete_expired_verifications(now).await {
            tracing::warn!(error = %err, "verification sweep failed");
        }
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
