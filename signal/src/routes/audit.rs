//! The owner's audit trail (table `audit_logs`).

use axum::extract::State;
use axum::Json;
use securecam_storage::{AuditLog, Page};

use crate::auth::UserCaller;
use crate::error::{ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::pagination::ListQuery;
use crate::state::AppState;

/// Sensitive actions on the caller's account, newest first.
#[utoipa::path(get, path = "/api/v1/audit-logs", tag = "audit", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<AuditLog>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_audit_logs(
    State(state): State<AppState>,
    caller: UserCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<AuditLog>>> {
    Ok(Json(
        state
            .db()
            .list_audit_logs(caller.user_id(), query.page()?)
            .await?,
    ))
}
