//! What each kind of credential may do, written once. A user session and a viewing device act
//! for their owner (ownership and links still decide which ids they see). A camera's device
//! token does only a camera's job: a stolen camera phone must not erase the owner's evidence,
//! watch the other cameras or read the owner's history. Every route a camera token calls is
//! checked against [`CAMERA_ROUTES`] by the `Caller` extractor; anything else is 403
//! `camera_token_not_allowed`.

use axum::http::Method;

/// The problem code and detail of a camera's token used for what only its owner may do.
pub const CAMERA_NOT_ALLOWED: &str = "camera_token_not_allowed";
pub const CAMERA_NOT_ALLOWED_DETAIL: &str =
    "a camera's token may only do a camera's job; use the owner's credentials";

/// Where a camera's own id must be the `{id}` of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Any id the handler allows (its own events and uploads are checked there).
    Any,
    /// `{id}` is the camera itself.
    ItselfOnly,
}

/// The routes (method, path as routed) a camera's device token may call: its WebSocket and
/// tickets for it, reporting and ending its events, uploading its clips, reading and updating
/// itself and its command queue, ICE servers to publish with, and the Web Push key.
pub const CAMERA_ROUTES: &[(Method, &str, Scope)] = &[
    (Method::GET, "/api/v1/ws", Scope::Any),
    (Method::POST, "/api/v1/ws-tickets", Scope::Any),
    (Method::POST, "/api/v1/events", Scope::Any),
    (Method::POST, "/api/v1/events/{id}/end", Scope::Any),
    (Method::POST, "/api/v1/recordings/uploads", Scope::Any),
    (Method::PUT, "/api/v1/recordings/{id}/upload", Scope::Any),
    (Method::POST, "/api/v1/recordings/{id}/complete", Scope::Any),
    // Lists only itself (the handler's rule for any device token).
    (Method::GET, "/api/v1/devices", Scope::Any),
    (Method::GET, "/api/v1/devices/{id}", Scope::ItselfOnly),
    (Method::PATCH, "/api/v1/devices/{id}", Scope::ItselfOnly),
    (
        Method::GET,
        "/api/v1/devices/{id}/commands",
        Scope::ItselfOnly,
    ),
    (Method::GET, "/api/v1/ice-servers", Scope::Any),
    (Method::GET, "/api/v1/webpush/vapid-public-key", Scope::Any),
];

/// What a camera's token gets on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraAccess {
    Allowed,
    /// Not a camera's job: 403 `camera_token_not_allowed`.
    NotAllowed,
    /// A device route for an id that is not the camera itself: to a camera every other
    /// device is unknown (404, as another owner's ids are).
    NotItself,
}

/// What a camera's token may do with `method` on `route` (the path as routed, with `{id}`)
/// for the concrete `path`, being device `itself`.
pub fn camera_access(method: &Method, route: &str, path: &str, itself: &str) -> CameraAccess {
    let Some((_, _, scope)) = CAMERA_ROUTES
        .iter()
        .find(|(m, r, _)| m == method && *r == route)
    else {
        return CameraAccess::NotAllowed;
    };
    match scope {
        Scope::ItselfOnly if path_id(route, path) != Some(itself) => CameraAccess::NotItself,
        _ => CameraAccess::Allowed,
    }
}

/// Whether a camera's token may call it at all (see [`camera_access`]).
pub fn camera_may(method: &Method, route: &str, path: &str, itself: &str) -> bool {
    camera_access(method, route, path, itself) == CameraAccess::Allowed
}

/// The segment of `path` where `route` has `{id}`.
fn path_id<'a>(route: &str, path: &'a str) -> Option<&'a str> {
    let at = route.split('/').position(|segment| segment == "{id}")?;
    path.split('/').nth(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_may_do_its_job_and_nothing_else() {
        let me = "0193a3a0-0000-7000-8000-000000000001";
        let other = "0193a3a0-0000-7000-8000-000000000002";
        assert!(camera_may(
            &Method::POST,
            "/api/v1/events",
            "/api/v1/events",
            me
        ));
        let own = format!("/api/v1/devices/{me}");
        assert!(camera_may(&Method::PATCH, "/api/v1/devices/{id}", &own, me));
        let others = format!("/api/v1/devices/{other}");
        assert_eq!(
            camera_access(&Method::PATCH, "/api/v1/devices/{id}", &others, me),
            CameraAccess::NotItself
        );
        assert!(!camera_may(
            &Method::DELETE,
            "/api/v1/devices/{id}",
            &own,
            me
        ));
        assert!(!camera_may(
            &Method::GET,
            "/api/v1/recordings",
            "/api/v1/recordings",
            me
        ));
        assert!(!camera_may(
            &Method::POST,
            "/api/v1/stream-sessions",
            "/api/v1/stream-sessions",
            me
        ));
    }
}
