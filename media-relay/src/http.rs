//! WHIP (RFC 9725) and WHEP endpoints: `POST /media/whip/{stream}` publishes,
//! `POST /media/whep/{stream}` watches, and the session URL in `Location` takes trickle ICE /
//! ICE restarts (`PATCH`) and ends the session (`DELETE`). Tokens are checked here, with the
//! verifying key only: no database on the media path.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{middleware, Router};
use ed25519_dalek::VerifyingKey;
use serde_json::json;
use str0m::IceCreds;
use uuid::Uuid;

use crate::core::{AddError, TrickleError};
use crate::driver::RelayHandle;
use crate::offer::{parse_fragment, OfferError};
use crate::token::{self, Direction, TokenError};
use crate::LegRole;

pub const SDP: &str = "application/sdp";
pub const SDPFRAG: &str = "application/trickle-ice-sdpfrag";
/// Seconds a viewer should wait before retrying a stream whose camera is not publishing yet.
const RETRY_NOT_PUBLISHING: u64 = 2;
const RETRY_OVERLOADED: u64 = 5;

/// One STUN/TURN server as a `Link: <url>; rel="ice-server"` header (RFC 9725 §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceLink {
    pub url: String,
    pub username: Option<String>,
    pub credential: Option<String>,
}

/// The ICE servers for a device (TURN credentials are made per device).
pub type IceLinks = Arc<dyn Fn(Uuid) -> Vec<IceLink> + Send + Sync>;

#[derive(Clone)]
pub struct MediaHttp {
    pub relay: RelayHandle,
    pub verifying_key: VerifyingKey,
    pub ice_links: IceLinks,
}

/// The `/media/...` routes.
pub fn router(state: MediaHttp) -> Router {
    Router::new()
        .route(
            "/media/whip/{stream}",
            post(publish).options(preflight_post),
        )
        .route("/media/whep/{stream}", post(watch).options(preflight_post))
        .route(
            "/media/sessions/{id}",
            axum::routing::patch(trickle)
                .delete(end)
                .options(preflight_session),
        )
        .layer(middleware::map_response(cors))
        .with_state(state)
}

/// Browsers publish and watch from other origins (the web app, a WHIP encoder page); the
/// bearer token, not the origin, is what authorises.
async fn cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After"),
    );
    response
}

fn preflight(methods: &'static str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, If-Match"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

async fn preflight_post() -> Response {
    let mut response = preflight("POST, OPTIONS");
    response
        .headers_mut()
        .insert("accept-post", HeaderValue::from_static(SDP));
    response
}

async fn preflight_session() -> Response {
    let mut response = preflight("PATCH, DELETE, OPTIONS");
    response
        .headers_mut()
        .insert("accept-patch", HeaderValue::from_static(SDPFRAG));
    response
}

/// A problem document (RFC 9457), shaped like signal's.
fn problem(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail.into(),
        "code": code,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn content_type_is(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(wanted))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized(detail: &str) -> Response {
    let mut response = problem(StatusCode::UNAUTHORIZED, "unauthorized", detail);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

async fn publish(
    State(state): State<MediaHttp>,
    Path(stream): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(state, LegRole::Publisher, stream, headers, body).await
}

async fn watch(
    State(state): State<MediaHttp>,
    Path(stream): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    create(state, LegRole::Viewer, stream, headers, body).await
}

async fn create(
    state: MediaHttp,
    role: LegRole,
    stream: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !content_type_is(&headers, SDP) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the offer is sent as application/sdp",
        );
    }
    let Some(token) = bearer(&headers) else {
        return unauthorized("a media token is required (Authorization: Bearer)");
    };
    let dir = match role {
        LegRole::Publisher => Direction::Publish,
        LegRole::Viewer => Direction::Subscribe,
    };
    let now_unix = chrono::Utc::now().timestamp();
    let claims = match token::verify(&state.verifying_key, token, &stream, dir, now_unix) {
        Ok(claims) => claims,
        Err(TokenError::WrongScope) => {
            return problem(
                StatusCode::FORBIDDEN,
                "wrong_token_scope",
                "this media token is for another stream or direction",
            )
        }
        Err(TokenError::Expired) => return unauthorized("the media token has expired"),
        Err(_) => return unauthorized("the media token is not valid"),
    };
    let Ok(sdp) = std::str::from_utf8(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "malformed_sdp",
            "the offer is not UTF-8",
        );
    };
    let peer = match state.relay.factory().answer(Instant::now(), role, sdp) {
        Ok(peer) => peer,
        Err(OfferError::Malformed(detail)) => {
            return problem(StatusCode::BAD_REQUEST, "malformed_sdp", detail)
        }
        Err(OfferError::Unsupported(detail)) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_media",
                detail,
            )
        }
    };
    let answer = peer.answer.clone();
    let etag = etag(&peer.ufrag);
    let id = new_session_id();
    let added = state
        .relay
        .add(id.clone(), role, stream, claims.sub, claims.sid, peer)
        .await;
    match added {
        Ok(Ok(())) => {}
        Ok(Err(AddError::NoPublisher)) => {
            return retry_after(
                problem(
                    StatusCode::CONFLICT,
                    "not_publishing",
                    "the camera is not publishing yet; retry shortly",
                ),
                RETRY_NOT_PUBLISHING,
            )
        }
        Ok(Err(AddError::PublisherTaken)) => {
            return problem(
                StatusCode::CONFLICT,
                "already_publishing",
                "another device publishes this stream",
            )
        }
        Ok(Err(AddError::Overloaded)) | Err(_) => {
            return retry_after(
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "relay_overloaded",
                    "the relay is at capacity; retry later",
                ),
                RETRY_OVERLOADED,
            )
        }
    }
    let mut response = (StatusCode::CREATED, answer).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SDP));
    if let Ok(location) = HeaderValue::from_str(&format!("/media/sessions/{id}")) {
        h.insert(header::LOCATION, location);
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, etag);
    }
    h.insert("accept-patch", HeaderValue::from_static(SDPFRAG));
    for link in (state.ice_links)(claims.sub) {
        if let Ok(value) = HeaderValue::from_str(&link_header(&link)) {
            h.append(header::LINK, value);
        }
    }
    response
}

/// `PATCH` on a session: trickled candidates (204), or an ICE restart (200 with our new
/// credentials), which must name the current ETag in `If-Match` (RFC 9725 §4.3.2).
async fn trickle(
    State(state): State<MediaHttp>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(Some(ice)) = state.relay.ufrag(id.clone()).await else {
        return problem(StatusCode::NOT_FOUND, "not_found", "no such media session");
    };
    if !content_type_is(&headers, SDPFRAG) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "trickle ICE is sent as application/trickle-ice-sdpfrag",
        );
    }
    let current = etag(&ice.local_ufrag);
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
    if let Some(tag) = if_match {
        if tag.trim() != "*" && tag.trim() != current {
            return problem(
                StatusCode::PRECONDITION_FAILED,
                "etag_mismatch",
                "the session's ICE credentials changed (If-Match does not match the ETag)",
            );
        }
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return problem(StatusCode::BAD_REQUEST, "malformed_sdpfrag", "not UTF-8");
    };
    let fragment = match parse_fragment(text) {
        Ok(f) => f,
        Err(e) => return problem(StatusCode::BAD_REQUEST, "malformed_sdpfrag", e.to_string()),
    };
    let restart = match (&fragment.ufrag, &fragment.pwd) {
        (Some(ufrag), Some(pass)) if *ufrag != ice.remote_ufrag => Some(IceCreds {
            ufrag: ufrag.clone(),
            pass: pass.clone(),
        }),
        _ => None,
    };
    if restart.is_some() && if_match.is_none() {
        return problem(
            StatusCode::PRECONDITION_REQUIRED,
            "if_match_required",
            "an ICE restart must send If-Match with the session's ETag",
        );
    }
    let is_restart = restart.is_some();
    match state.relay.trickle(id, fragment.candidates, restart).await {
        Ok(Ok(Some(local))) if is_restart => {
            let body = format!(
                "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
                local.ufrag, local.pass
            );
            let mut response = (StatusCode::OK, body).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SDPFRAG));
            if let Ok(tag) = HeaderValue::from_str(&etag(&local.ufrag)) {
                h.insert(header::ETAG, tag);
            }
            response
        }
        Ok(Ok(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(TrickleError::NotFound)) | Err(_) => {
            problem(StatusCode::NOT_FOUND, "not_found", "no such media session")
        }
        Ok(Err(TrickleError::BadCandidate(detail))) => {
            problem(StatusCode::BAD_REQUEST, "malformed_sdpfrag", detail)
        }
    }
}

async fn end(State(state): State<MediaHttp>, Path(id): Path<String>) -> Response {
    match state.relay.remove(id).await {
        Ok(true) => StatusCode::OK.into_response(),
        _ => problem(StatusCode::NOT_FOUND, "not_found", "no such media session"),
    }
}

/// The ETag names the ICE session: it changes with every ICE restart.
fn etag(local_ufrag: &str) -> String {
    format!("\"{local_ufrag}\"")
}

/// 128 random bits: the session URL is the capability to end or restart a leg.
fn new_session_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn link_header(link: &IceLink) -> String {
    let mut value = format!("<{}>; rel=\"ice-server\"", link.url);
    if let (Some(user), Some(credential)) = (&link.username, &link.credential) {
        value.push_str(&format!(
            "; username=\"{user}\"; credential=\"{credential}\"; credential-type=\"password\""
        ));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_follow_rfc_9725() {
        let stun = IceLink {
            url: "stun:stun.example.net".into(),
            username: None,
            credential: None,
        };
        assert_eq!(
            link_header(&stun),
            "<stun:stun.example.net>; rel=\"ice-server\""
        );
        let turn = IceLink {
            url: "turn:turn.example.net?transport=udp".into(),
            username: Some("1700:u".into()),
            credential: Some("pw=".into()),
        };
        assert_eq!(
            link_header(&turn),
            "<turn:turn.example.net?transport=udp>; rel=\"ice-server\"; username=\"1700:u\"; \
             credential=\"pw=\"; credential-type=\"password\""
        );
    }
}
