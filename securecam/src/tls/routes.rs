//! What a phone needs to trust this server: the local CA's certificate (`/ca.pem`, `/ca.crt`)
//! and `GET /api/v1/tls` (how HTTPS is set up, the URLs to open, the CA's fingerprint). No
//! credential: a phone asks before anyone has signed in, and none of it is secret.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{https_urls, CaCertificate, TlsMode};

/// How this server does HTTPS.
#[derive(Debug, Serialize, ToSchema)]
pub struct TlsInfo {
    /// `off` also when HTTPS is configured but its port could not be bound.
    pub mode: TlsMode,
    /// Where a phone on the home network opens the app over HTTPS, LAN addresses first;
    /// empty without HTTPS.
    pub https_urls: Vec<String>,
    /// The SHA-256 fingerprint of the local CA's certificate (`AB:CD:…`), to compare with
    /// what a phone shows when installing it; `null` unless the mode is `self-signed`.
    pub ca_sha256: Option<String>,
}

/// What the routes show; `names` gives the certificate's names as they are now.
#[derive(Clone)]
pub struct TlsView {
    pub mode: TlsMode,
    pub ca: Option<CaCertificate>,
    pub names: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
    pub https_port: Option<u16>,
    /// `public_url` when it was set and is https: the first URL to offer.
    pub public_https_url: Option<String>,
}

impl TlsView {
    pub fn info(&self) -> TlsInfo {
        let Some(port) = self.https_port else {
            return TlsInfo {
                mode: TlsMode::Off,
                https_urls: Vec::new(),
                ca_sha256: None,
            };
        };
        let mut urls: Vec<String> = self.public_https_url.iter().cloned().collect();
        for url in https_urls(&(self.names)(), port) {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        TlsInfo {
            mode: self.mode,
            https_urls: urls,
            ca_sha256: self.ca.as_ref().map(|ca| ca.sha256.clone()),
        }
    }
}

#[derive(OpenApi)]
#[openapi(paths(tls_info), components(schemas(TlsInfo, TlsMode)))]
pub struct TlsApi;

pub fn router(view: TlsView) -> Router {
    Router::new()
        .route("/api/v1/tls", get(tls_info))
        .route("/ca.pem", get(ca_pem))
        .route("/ca.crt", get(ca_der))
        .with_state(view)
}

/// How this server does HTTPS: the URLs to open on a phone and the CA to trust.
#[utoipa::path(get, path = "/api/v1/tls", tag = "ops", responses((status = 200, body = TlsInfo)))]
pub async fn tls_info(State(view): State<TlsView>) -> Json<TlsInfo> {
    Json(view.info())
}

async fn ca_pem(State(view): State<TlsView>) -> Response {
    match &view.ca {
        Some(ca) => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            ca.pem.clone(),
        )
            .into_response(),
        None => no_ca(),
    }
}

/// DER, the form Android's and iOS's certificate installers take from a download.
async fn ca_der(State(view): State<TlsView>) -> Response {
    match &view.ca {
        Some(ca) => (
            [
                (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"securecam-ca.crt\"",
                ),
            ],
            ca.der.clone(),
        )
            .into_response(),
        None => no_ca(),
    }
}

fn no_ca() -> Response {
    securecam_signal::error::problem_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "this server has no local certificate authority (tls.mode is not self-signed)".to_string(),
        None,
    )
}
