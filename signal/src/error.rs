//! Errors as `application/problem+json` (RFC 9457) with a stable machine-readable `code`.
//!
//! A handler returns [`ApiError`]: either a client error, which is the caller's to fix and is
//! answered as it is, or an unexpected one, which is logged with its cause and answered with a
//! bare 500 that reveals nothing.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use securecam_storage::StorageError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::commands::payload::PayloadError;
use crate::commands::store::SendError;
use crate::events::EventError;
use crate::streams::StreamError;

/// The problem document every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` is what identifies the problem.
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_credentials`, `email_taken`, `not_found`.
    pub code: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{status} {code}: {detail}")]
    Client {
        status: StatusCode,
        code: &'static str,
        detail: String,
        /// Seconds, for 429 and 503.
        retry_after: Option<u64>,
    },
    #[error("unexpected: {0:#}")]
    Unexpected(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn client(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// Unknown or not the caller's: the two are indistinguishable on purpose.
    pub fn not_found(what: &str) -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::client(StatusCode::CONFLICT, code, detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        ApiError::Client {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate_limited",
            detail: format!("too many requests; retry in {retry_after_secs} s"),
            retry_after: Some(retry_after_secs.max(1)),
        }
    }

    /// 503: a service this needs is not there right now; try again in `retry_after_secs`.
    pub fn unavailable(
        code: &'static str,
        detail: impl Into<String>,
        retry_after_secs: u64,
    ) -> Self {
        ApiError::Client {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code,
            detail: detail.into(),
            retry_after: Some(retry_after_secs.max(1)),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound => ApiError::not_found("resource"),
            StorageError::Conflict(what) => {
                ApiError::conflict("conflict", format!("already exists ({what})"))
            }
            other => ApiError::Unexpected(other.into()),
        }
    }
}

/// How the services' errors answer over HTTP: each domain error keeps its stable code and
/// public message (the same ones a WebSocket `error` frame carries); only the status is
/// decided here, the one place that knows HTTP.
impl From<SendError> for ApiError {
    fn from(err: SendError) -> Self {
        let status = match err {
            SendError::Storage(cause) => return cause.into(),
            SendError::Payload(PayloadError::UnknownType(_)) | SendError::InvalidIdempotencyKey => {
                StatusCode::BAD_REQUEST
            }
            SendError::Payload(PayloadError::ServerIssued(_)) => StatusCode::FORBIDDEN,
            SendError::NotFound => StatusCode::NOT_FOUND,
            SendError::Payload(PayloadError::Invalid(_))
            | SendError::InvalidTtl
            | SendError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::client(status, err.code(), err.public_message())
    }
}

impl From<EventError> for ApiError {
    fn from(err: EventError) -> Self {
        let status = match err {
            EventError::Storage(cause) => return cause.into(),
            EventError::NotACamera => StatusCode::FORBIDDEN,
            EventError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EventError::NotFound => StatusCode::NOT_FOUND,
        };
        ApiError::client(status, err.code(), err.public_message())
    }
}

impl From<StreamError> for ApiError {
    fn from(err: StreamError) -> Self {
        match err {
            StreamError::Storage(err) => err.into(),
            StreamError::RelayUnavailable => {
                ApiError::unavailable("relay_unavailable", err.to_string(), 5)
            }
            StreamError::CameraNotFound => ApiError::not_found("device"),
            StreamError::InvalidRequester => ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_requester",
                err.to_string(),
            ),
            StreamError::NotACamera => ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_a_camera",
                err.to_string(),
            ),
        }
    }
}

pub fn problem_response(
    status: StatusCode,
    code: &str,
    detail: String,
    retry_after: Option<u64>,
) -> Response {
    let problem = Problem {
        type_: "about:blank",
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        code: code.to_string(),
    };
    let mut response = (status, axum::Json(problem)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(secs) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Client {
                status,
                code,
                detail,
                retry_after,
            } => problem_response(status, code, detail, retry_after),
            ApiError::Unexpected(err) => {
                tracing::error!(error = ?err, "request failed unexpectedly");
                problem_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the server failed to handle this request".to_string(),
                    None,
                )
            }
        }
    }
}

/// Turns error responses that are not problem documents yet — axum's 405, the request
/// timeout's 408, the body limit's 413, a caught panic's 500 — into problem documents, so
/// every error a client sees has the same shape and a stable code.
pub async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::INTERNAL_SERVER_ERROR => "internal_error",
        s if s.is_server_error() => "server_error",
        _ => "bad_request",
    };
    let detail = status.canonical_reason().unwrap_or("error").to_lowercase();
    let mut problem = problem_response(status, code, detail, None);
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}
