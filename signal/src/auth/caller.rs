use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use chrono::Duration;
use securecam_storage::now;

use super::rights::{camera_access, CameraAccess, CAMERA_NOT_ALLOWED, CAMERA_NOT_ALLOWED_DETAIL};
use super::tokens::{self, DEVICE_TOKEN_PREFIX, USER_TOKEN_PREFIX};
use crate::error::ApiError;
use crate::state::AppState;
use crate::types::identity::{Caller, UserCaller};

/// Activity is written back at most this often, so authenticated reads stay reads.
const TOUCH_INTERVAL_SECS: i64 = 60;

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    bearer_token(&parts.headers)
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized("expected a Bearer token"));
    }
    Ok(token.trim())
}

/// Resolves a token to its caller; any failure is the same 401.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::unauthorized("invalid or expired token");
    let is_user = token.starts_with(USER_TOKEN_PREFIX);
    if !is_user && !token.starts_with(DEVICE_TOKEN_PREFIX) {
        return Err(invalid());
    }
    let hash = tokens::hash(token);
    let cache = state.credentials();
    let started = Instant::now();
    // Read once, before anything is looked up: any revocation after this point makes both
    // inserts below refuse, so a revoked credential is never cached again.
    let generation = cache.generation();
    let mut caller = match cache.get(&hash, started) {
        Some(caller) => caller,
        None => {
            let found = if is_user {
                state
                    .db()
                    .get_session_by_token_hash(&hash)
                    .await?
                    .map(|session| Caller::User { session })
            } else {
                state
                    .db()
                    .get_device_by_token_hash(&hash)
                    .await?
                    .map(|device| Caller::Device { device })
            };
            let caller = found.ok_or_else(invalid)?;
            cache.insert(&hash, caller.clone(), started, generation);
            caller
        }
    };
    if let Caller::User { session } = &mut caller {
        // Lifetime and idle timeout are checked on every request, cached or not.
        let at = now();
        let idle = Duration::from_std(state.config().session_idle_timeout).unwrap_or(Duration::MAX);
        if session.expires_at <= at || session.last_active_at + idle <= at {
            return Err(invalid());
        }
        if (at - session.last_active_at).num_seconds() >= TOUCH_INTERVAL_SECS {
            if !state.db().touch_session(session.id, at).await? {
                return Err(invalid());
            }
            session.last_active_at = at;
            cache.insert(&hash, caller.clone(), Instant::now(), generation);
        }
    }
    Ok(caller)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let caller = authenticate(state, bearer(parts)?).await?;
        allowed(&caller, parts)?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

fn allowed(caller: &Caller, parts: &Parts) -> Result<(), ApiError> {
    check_rights(caller, &parts.method, &parts.uri, &parts.extensions)
}

/// A camera's device token only on a camera's routes (`super::rights`); any other
/// credential here is for its handler to judge. For handlers that authenticate by hand.
pub fn check_rights(
    caller: &Caller,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    extensions: &axum::http::Extensions,
) -> Result<(), ApiError> {
    let Caller::Device { device } = caller else {
        return Ok(());
    };
    if !device.is_camera {
        return Ok(());
    }
    let path = uri.path();
    let route = extensions
        .get::<MatchedPath>()
        .map_or(path, |matched| matched.as_str());
    match camera_access(method, route, path, &device.id.to_string()) {
        CameraAccess::Allowed => Ok(()),
        CameraAccess::NotAllowed => Err(camera_not_allowed()),
        CameraAccess::NotItself => Err(ApiError::not_found("device")),
    }
}

/// The answer to a camera's token used for something only its owner may do.
pub fn camera_not_allowed() -> ApiError {
    ApiError::client(
        StatusCode::FORBIDDEN,
        CAMERA_NOT_ALLOWED,
        CAMERA_NOT_ALLOWED_DETAIL,
    )
}

impl FromRequestParts<AppState> for UserCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::User { session } => Ok(UserCaller { session }),
            Caller::Device { .. } => Err(ApiError::forbidden(
                "this endpoint needs a user token, not a device token",
            )),
        }
    }
}
