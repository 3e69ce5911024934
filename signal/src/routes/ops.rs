//! Operations endpoints every component serves: liveness, readiness, Prometheus metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use securecam_storage::Database;
use serde_json::json;

/// More metrics text rendered at scrape time (the media relay's per-stream and per-leg series).
pub type MetricsSource = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>> + Send + Sync,
>;

#[derive(Clone)]
struct OpsState {
    db: Arc<dyn Database>,
    metrics: PrometheusHandle,
    extra: Vec<MetricsSource>,
}

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router(
    db: Arc<dyn Database>,
    metrics: PrometheusHandle,
    extra: Vec<MetricsSource>,
) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(OpsState { db, metrics, extra })
}

/// Alive: the process answers.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the database answers and every migration is applied.
async fn readyz(State(state): State<OpsState>) -> Response {
    match state.db.ready().await {
        Ok(true) => {
            Json(json!({"status": "ready", "database": state.db.backend()})).into_response()
        }
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": "migrations pending"})),
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not_ready", "reason": "database unreachable"})),
            )
                .into_response()
        }
    }
}

async fn render_metrics(State(state): State<OpsState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    for source in &state.extra {
        text.push('\n');
        text.push_str(&source().await);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Counts requests and their latency by route template (never by raw path, which would
/// make one series per id).
pub async fn track_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
