//! Notifications (tables `notifications`, `notification_deliveries`): what the owner was
//! told, and the push and webhook jobs that carry it.

use axum::extract::State;
use axum::Json;
use securecam_storage::{DeliveryStatus, NotificationDelivery, Page};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::UserCaller;
use crate::error::{ApiResult, Problem};
use crate::extract::ApiQuery;
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
