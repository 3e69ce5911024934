//! The HTTP API, one file per resource; [`router`] assembles it with its OpenAPI document.

pub mod audit;
pub mod auth;
pub mod commands;
pub mod devices;
pub mod events;
pub mod links;
pub mod notifications;
pub mod ops;
pub mod pairing;
pub mod recordings;
pub mod streams;
pub mod uploads;
pub mod webhooks;
pub mod ws;

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::problem_response;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "SecureCam API",
        version = "1",
        description = "The contract camera phones, viewer apps and integrations are built against. \
            Errors are application/problem+json with a stable `code`. Lists are keyset-paginated with \
            `?limit=` (1-200, default 50) and `?cursor=`, answering `{items, next_cursor}`. \
            Ids of another owner answer 404, exactly like ids that do not exist."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "devices", description = "Phones and browsers of a user"),
        (name = "audit", description = "Audit trail"),
        (name = "signalling", description = "The device WebSocket"),
        (name = "links", description = "Devices allowed to watch a camera"),
        (name = "pairing", description = "Pairing a phone as a camera by code"),
        (name = "commands", description = "Durable commands to devices"),
        (name = "notifications", description = "Notifications of events, their push deliveries, preferences"),
        (name = "webhooks", description = "Signed HTTP callbacks for integrations (Standard Webhooks)"),
        (name = "events", description = "What cameras saw or heard"),
        (name = "streams", description = "Live view sessions and ICE servers"),
        (name = "recordings", description = "Clips: event clips and recordings, playback"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user token (`scu_…`, from sign-in) or a device token (`scd_…`, issued once \
                         when a device is created or paired).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The signal API and its OpenAPI document, generated from the handlers' annotations.
pub fn router(state: AppState) -> (Router, OpenApiDoc) {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::sign_up))
        .routes(routes!(auth::sign_in))
        .routes(routes!(auth::sign_out))
        .routes(routes!(auth::current_session))
        .routes(routes!(auth::list_sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(auth::request_password_reset))
        .routes(routes!(auth::reset_password))
        .routes(routes!(devices::create_device, devices::list_devices))
        .routes(routes!(
            devices::get_device,
            devices::update_device,
            devices::delete_device
        ))
        .routes(routes!(audit::list_audit_logs))
        .routes(routes!(links::list, links::create))
        .routes(routes!(links::revoke))
        .routes(routes!(links::create_invite))
        .routes(routes!(links::accept_invite))
        .routes(routes!(pairing::start))
        .routes(routes!(pairing::claim))
        .routes(routes!(pairing::poll))
        .routes(routes!(commands::create, commands::list))
        .routes(routes!(commands::get))
        .routes(routes!(commands::cancel))
        .routes(routes!(events::create, events::list))
        .routes(routes!(events::get))
        .routes(routes!(events::end))
        .routes(routes!(events::acknowledge))
        .routes(routes!(recordings::list))
        .routes(routes!(recordings::get, recordings::delete))
        .routes(routes!(recordings::media))
        .routes(routes!(uploads::create))
        .routes(routes!(uploads::upload))
        .routes(routes!(uploads::complete))
        .routes(routes!(notifications::list_deliveries))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(
            notifications::get_preferences,
            notifications::put_preferences
        ))
        .routes(routes!(notifications::vapid_public_key))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::delete))
        .routes(routes!(streams::create))
        .routes(routes!(streams::get, streams::end))
        .routes(routes!(streams::ice_servers))
        .routes(routes!(ws::connect))
        .routes(routes!(ws::create_ticket))
        .with_state(state)
        .split_for_parts();
    (router, openapi)
}

/// Unknown paths get a problem document too.
pub async fn not_found(method: Method, uri: Uri) -> Response {
    problem_response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {method} {}", uri.path()),
        None,
    )
    .into_response()
}
