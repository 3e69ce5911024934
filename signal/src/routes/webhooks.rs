//! Webhook endpoints (table `webhook_endpoints`): an owner's integrations, told of events,
//! clips and presence by signed POSTs (Standard Webhooks).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use securecam_storage::{
    now, NewAuditLog, NewWebhookEndpoint, Page, PageRequest, WebhookEndpoint, WebhookEventType,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::UserCaller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, ApiQuery, ClientInfo};
use crate::pagination::ListQuery;
use crate::state::AppState;

/// Endpoints one owner may have.
const MAX_ENDPOINTS: usize = 20;
const MAX_URL_LEN: usize = 2048;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://` (plain `http://` and private addresses only where the server allows
    /// private targets).
    pub url: String,
    /// What to send: `event.created`, `event.ended`, `recording.available`,
    /// `device.online`, `device.offline`.
    pub events: Vec<WebhookEventType>,
}

/// A new endpoint with its signing secret, which is shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEventType>,
    /// `whsec_` + base64 of 32 random bytes: verify `webhook-signature` with it.
    pub secret: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

securecam_storage::redacted_debug!(CreatedWebhook { id, url, events, enabled, created_at, updated_at; secret: secret });

fn validate(body: &CreateWebhook, allow_private: bool) -> Result<url::Url, ApiError> {
    if body.url.len() > MAX_URL_LEN {
        return Err(ApiError::invalid(format!(
            "url must be at most {MAX_URL_LEN} characters"
        )));
    }
    let url: url::Url = body
        .url
        .parse()
        .map_err(|e| ApiError::invalid(format!("url is not a URL: {e}")))?;
    if url.scheme() != "https" && !(allow_private && url.scheme() == "http") {
        return Err(ApiError::invalid("url must be https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid(
            "url must not carry credentials; verify the signature instead",
        ));
    }
    securecam_notifier::guard::check_url(&url, allow_private).map_err(ApiError::invalid)?;
    if body.events.is_empty() {
        return Err(ApiError::invalid(
            "events must name at least one event type",
        ));
    }
    Ok(url)
}

/// Registers a webhook endpoint for the caller's events.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhook),
              (status = 409, description = "`too_many_webhooks`", body = Problem),
              (status = 422, description = "`validation_failed`, `invalid_body`", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let url = validate(&body, state.config().allow_private_targets)?;
    let existing = state
        .db()
        .list_webhooks(caller.user_id(), PageRequest::first(MAX_ENDPOINTS as u32))
        .await?;
    if existing.items.len() >= MAX_ENDPOINTS {
        return Err(ApiError::conflict(
            "too_many_webhooks",
            format!("at most {MAX_ENDPOINTS} webhook endpoints; delete one first"),
        ));
    }
    let mut events = body.events;
    events.sort_by_key(|e| e.as_str());
    events.dedup();
    let secret = format!("whsec_{}", STANDARD.encode(rand::random::<[u8; 32]>()));
    let audit = NewAuditLog::new("webhook.create")
        .ip(client.ip_string())
        .metadata(serde_json::json!({"url": url.as_str(), "events": events}));
    let created = state
        .db()
        .create_webhook(
            NewWebhookEndpoint {
                owner_user_id: caller.user_id(),
                url: url.to_string(),
                events,
                secret: secret.clone(),
            },
            now(),
            audit,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            id: created.id,
            url: created.url,
            events: created.events,
            secret,
            enabled: created.enabled,
            created_at: created.created_at,
            updated_at: created.updated_at,
        }),
    ))
}

/// The caller's webhook endpoints, newest first (without their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<WebhookEndpoint>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: UserCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<WebhookEndpoint>>> {
    Ok(Json(
        state
            .db()
            .list_webhooks(caller.user_id(), query.page()?)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: UserCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpoint>> {
    let id = parse_id(&id, "webhook")?;
    state
        .db()
        .get_webhook(caller.user_id(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// Deletes an endpoint; what was still waiting to be sent to it is dropped.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "webhook")?;
    let audit = NewAuditLog::new("webhook.delete").ip(client.ip_string());
    if state
        .db()
        .delete_webhook(caller.user_id(), id, audit)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}
