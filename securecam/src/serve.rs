//! The HTTP and HTTPS listeners: one accept loop for both (hyper's HTTP/1.1 and HTTP/2 behind
//! rustls for HTTPS), each request told which listener it came in on and from where, and a
//! graceful stop that lets requests in flight finish.
//!
//! Not `axum::serve`: it has no TLS, and no way to bound how long a client may take to send
//! its request headers.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use securecam_signal::types::links::Scheme;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::tls::acme;

/// How long clients may take and how many connections they may hold (`SECURECAM_HTTP__*`),
/// so slow or idle clients cannot exhaust the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConnectionLimits {
    /// Seconds a client has to finish its TLS handshake and to send a request's headers.
    /// Hyper starts this clock also while an HTTP/1.1 connection waits for its next request,
    /// so an idle HTTP/1.1 keep-alive connection closes after this long too.
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may pass with no byte read or written before it is closed
    /// (HTTP/2 connections, and WebSockets, which the server pings well within it).
    pub idle_timeout_secs: u64,
    /// Connections open at once, over all clients; more are closed on accept.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_connections_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 10_000,
            max_connections_per_address: 256,
        }
    }
}

impl ConnectionLimits {
    fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.max(1))
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
}

/// The connections open now, in all and per address (shared by both listeners).
pub struct Admission {
    limits: ConnectionLimits,
    total: Arc<Semaphore>,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Admission {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Admission {
            total: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            per_address: Arc::default(),
            limits,
        })
    }

    /// A slot for a connection from `ip`, held until the connection ends; `None` when the
    /// server or that address is at its limit.
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        let mut open = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= self.limits.max_connections_per_address.max(1) {
            return None;
        }
        *count += 1;
        Some(Slot {
            _total: total,
            ip,
            per_address: self.per_address.clone(),
        })
    }
}

struct Slot {
    _total: tokio::sync::OwnedSemaphorePermit,
    ip: IpAddr,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection that fails with `TimedOut` once nothing was read or written for `idle`. The
/// clock is a timestamp bumped on every transfer and one timer that re-arms only when it
/// fires, not a timer reset per read.
struct IdleTimeout<T> {
    inner: T,
    idle: Duration,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    fn new(inner: T, idle: Duration) -> Self {
        IdleTimeout {
            inner,
            idle,
            last_activity: Instant::now(),
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }

    /// `Err` when the connection has been idle too long (after a pending read or write).
    fn check_idle(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let deadline = self.last_activity + self.idle;
            if Instant::now() >= deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection idle",
                ));
            }
            self.timer.as_mut().reset(deadline);
        }
        Ok(())
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.last_activity = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.check_idle(cx) {
                Ok(()) => Poll::Pending,
                Err(err) => Poll::Ready(Err(err)),
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.last_activity = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.check_idle(cx) {
                Ok(()) => Poll::Pending,
                Err(err) => Poll::Ready(Err(err)),
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One listener's socket and, for HTTPS, its TLS configuration.
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<Arc<ServerConfig>>,
}

impl Listener {
    pub fn scheme(&self) -> Scheme {
        match self.tls {
            Some(_) => Scheme::Https,
            None => Scheme::Http,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for the requests in
/// flight (upgraded WebSockets are the hub's to close).
pub async fn serve(
    listener: Listener,
    router: Router,
    admission: Arc<Admission>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let scheme = listener.scheme();
    let tls = listener.tls.map(TlsAcceptor::from);
    let header_read_timeout = admission.limits.header_read_timeout();
    let idle_timeout = admission.limits.idle_timeout();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = admission.admit(remote.ip()) else {
            tracing::debug!(%remote, "connection refused: at the connection limit");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stream = IdleTimeout::new(stream, idle_timeout);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                let extensions = request.extensions_mut();
                extensions.insert(ConnectInfo(remote));
                extensions.insert(scheme);
                router.clone().oneshot(request.map(axum::body::Body::new))
            });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            // Counted until the connection ends.
            let _slot = slot;
            let result = match tls {
                None => {
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(connection.into_owned()).await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(header_read_timeout, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(err)) => {
                                tracing::debug!(%remote, error = %err, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%remote, "TLS handshake timed out");
                                return;
                            }
                        };
                    // An ACME CA checking a TLS-ALPN-01 challenge wants the handshake only.
                    if acme::is_challenge(stream.get_ref().1.alpn_protocol()) {
                        return;
                    }
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(connection.into_owned()).await
                }
            };
            if let Err(err) = result {
                tracing::debug!(%remote, error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener.tcp);
    graceful.shutdown().await;
    Ok(())
}

/// Where the HTTP listener sends browsers: the HTTPS listener's port.
#[derive(Clone, Copy)]
pub struct HttpsRedirect {
    pub https_port: u16,
}

/// On the HTTP listener: a page request (not the API, WHIP/WHEP or health) from a browser
/// that is not on this machine goes to the same page over HTTPS, at the host it asked for —
/// a phone can open its camera only there. Loopback keeps plain HTTP (a secure context
/// already), and so does every client that is not loading a page.
pub async fn redirect_pages_to_https(
    State(redirect): State<HttpsRedirect>,
    request: Request,
    next: Next,
) -> Response {
    match https_location(&request, redirect.https_port) {
        Some(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        None => next.run(request).await,
    }
}

fn https_location(request: &Request, https_port: u16) -> Option<HeaderValue> {
    if !matches!(*request.method(), Method::GET | Method::HEAD)
        || !crate::web::is_page(request.uri().path())
    {
        return None;
    }
    let remote = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    let loopback = match remote {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
        ip => ip.is_loopback(),
    };
    if loopback {
        return None;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<axum::http::uri::Authority>().ok())?;
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let port = match https_port {
        443 => String::new(),
        port => format!(":{port}"),
    };
    HeaderValue::from_str(&format!("https://{}{port}{path}", host.host())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;

    async fn answer(router: &Router, from: &str, method: Method, uri: &str) -> Response {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "192.168.1.20:8080")
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
        router.clone().oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn browsers_on_the_network_are_sent_to_https_for_pages_only() {
        let router = Router::new()
            .route("/camera", get(|| async { "page" }))
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                HttpsRedirect { https_port: 8443 },
                redirect_pages_to_https,
            ));
        let phone = "192.168.1.30:50000";
        let redirected = answer(&router, phone, Method::GET, "/camera?x=1").await;
        assert_eq!(redirected.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            redirected.headers()[header::LOCATION],
            "https://192.168.1.20:8443/camera?x=1"
        );
        for (from, method, uri) in [
            (phone, Method::GET, "/healthz"),
            (phone, Method::POST, "/camera"),
            ("127.0.0.1:50000", Method::GET, "/camera"),
            ("[::1]:50000", Method::GET, "/camera"),
            ("[::ffff:127.0.0.1]:50000", Method::GET, "/camera"),
        ] {
            let response = answer(&router, from, method.clone(), uri).await;
            assert_ne!(
                response.status(),
                StatusCode::PERMANENT_REDIRECT,
                "{method} {uri} from {from}"
            );
        }
    }
}
