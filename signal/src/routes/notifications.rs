//! Notifications (tables `notifications`, `notification_deliveries`,
//! `notification_preferences`): what the owner was told, the push and webhook jobs that
//! carry it, and how the owner wants to be told.

use axum::extract::{Path, State};
use axum::Json;
use securecam_storage::{
    now, DeliveryStatus, NewAuditLog, Notification, NotificationDelivery, NotificationPreferences,
    Page,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::UserCaller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, ApiQuery, ClientInfo};
use crate::pagination::ListQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// Only deliveries in this status.
    pub status: Option<DeliveryStatus>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The caller's push and webhook deliveries, newest first: wake-up pushes for commands,
/// event pushes, webhook calls, with their attempts and last error.
#[utoipa::path(get, path = "/api/v1/notification-deliveries", tag = "notifications", security(("bearer" = [])),
    params(DeliveryListQuery),
    responses((status = 200, body = Page<NotificationDelivery>), (status = 401, body = Problem)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: UserCaller,
    ApiQuery(query): ApiQuery<DeliveryListQuery>,
) -> ApiResult<Json<Page<NotificationDelivery>>> {
    let page = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    Ok(Json(
        state
            .db()
            .list_notification_deliveries(caller.user_id(), query.status, page)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationListQuery {
    /// `true`: only notifications not yet read.
    pub unread: Option<bool>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The caller's notifications of events, newest first: one per event of their cameras and of
/// cameras shared with them, whether or not a push went out (`status`, `suppressed_reason`).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(NotificationListQuery),
    responses((status = 200, body = Page<Notification>), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: UserCaller,
    ApiQuery(query): ApiQuery<NotificationListQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    let page = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    Ok(Json(
        state
            .db()
            .list_notifications(caller.user_id(), query.unread.unwrap_or(false), page)
            .await?,
    ))
}

/// Marks one of the caller's notifications read (reading it again changes nothing).
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Notification), (status = 404, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    caller: UserCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<Notification>> {
    let id = parse_id(&id, "notification")?;
    state
        .db()
        .mark_notification_read(caller.user_id(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("notification"))
}

/// The caller's preferences (the defaults until they are set).
#[utoipa::path(get, path = "/api/v1/notification-preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = NotificationPreferences), (status = 401, body = Problem)))]
pub async fn get_preferences(
    State(state): State<AppState>,
    caller: UserCaller,
) -> ApiResult<Json<NotificationPreferences>> {
    Ok(Json(
        state
            .db()
            .notification_preferences(caller.user_id())
            .await?,
    ))
}

/// Replaces the caller's preferences. Quiet hours are local `HH:MM` times in an IANA time
/// zone (`start > end` spans midnight); muted cameras must be cameras the caller sees; the
/// cooldown (0 to 86400 s) collapses a burst of one camera's events into one alert. Events
/// held back still leave a notification (`status: suppressed`).
#[utoipa::path(put, path = "/api/v1/notification-preferences", tag = "notifications", security(("bearer" = [])),
    request_body = NotificationPreferences,
    responses((status = 200, body = NotificationPreferences),
              (status = 422, description = "`validation_failed`", body = Problem)))]
pub async fn put_preferences(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    ApiJson(mut body): ApiJson<NotificationPreferences>,
) -> ApiResult<Json<NotificationPreferences>> {
    body.validate().map_err(ApiError::invalid)?;
    body.muted_camera_ids.sort();
    body.muted_camera_ids.dedup();
    let visible = state
        .db()
        .visible_cameras(caller.user_id(), &body.muted_camera_ids)
        .await?;
    // An id that is not one of the caller's cameras is refused whether or not it exists.
    if let Some(unknown) = body
        .muted_camera_ids
        .iter()
        .find(|id| !visible.contains(id))
    {
        return Err(ApiError::invalid(format!(
            "muted_camera_ids: {unknown} is not one of your cameras"
        )));
    }
    let audit = NewAuditLog::new("notification_preferences.update")
        .ip(client.ip_string())
        .metadata(serde_json::json!({
            "quiet_hours": body.quiet_hours.is_some(),
            "muted_cameras": body.muted_camera_ids.len(),
            "cooldown_seconds": body.cooldown_seconds,
        }));
    Ok(Json(
        state
            .db()
            .set_notification_preferences(caller.user_id(), &body, now(), audit)
            .await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VapidPublicKey {
    /// The uncompressed P-256 point, base64url: `applicationServerKey` for
    /// `pushManager.subscribe`.
    pub public_key: String,
}

/// The server's VAPID public key, for browsers subscribing to Web Push.
#[utoipa::path(get, path = "/api/v1/webpush/vapid-public-key", tag = "notifications",
    responses((status = 200, body = VapidPublicKey), (status = 503, body = Problem)))]
pub async fn vapid_public_key(State(state): State<AppState>) -> ApiResult<Json<VapidPublicKey>> {
    match &state.config().vapid_public_key {
        Some(key) => Ok(Json(VapidPublicKey {
            public_key: key.clone(),
        })),
        None => Err(ApiError::unavailable(
            "webpush_unavailable",
            "this server has no VAPID key",
            60,
        )),
    }
}
