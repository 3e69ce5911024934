//! Devices (table `devices`): a user's phones and browsers, each with its own token.
//!
//! A user token sees all of its owner's devices. A device token acts for that one device:
//! it can read, update and delete itself and nothing else (other ids are 404).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use securecam_storage::{
    Device, DevicePatch, DeviceRole, NewAuditLog, NewDevice, Page, Platform, PushProvider,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::tokens::{self, DEVICE_TOKEN_PREFIX};
use crate::auth::{Caller, UserCaller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_id, ApiJson, ApiQuery, ClientInfo};
use crate::pagination::ListQuery;
use crate::state::AppState;
use crate::types::bus::Revocation;

use super::auth::validate_name;

/// Push tokens are opaque strings from FCM/APNs, or a Web Push subscription as JSON text.
const MAX_PUSH_TOKEN_LEN: usize = 4096;

#[derive(Deserialize, ToSchema)]
pub struct CreateDeviceRequest {
    pub name: String,
    pub role: DeviceRole,
    pub platform: Platform,
    pub app_version: Option<String>,
    pub push_provider: Option<PushProvider>,
    /// For `webpush`, the browser's `PushSubscription` as JSON text.
    pub push_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedDevice {
    pub device: Device,
    /// The device's bearer token. Shown once; store it on the device.
    pub device_token: String,
}

/// Fields left out stay as they are; `null` clears `app_version`, `push_provider`, `push_token`.
#[derive(Default, Deserialize, ToSchema)]
pub struct UpdateDeviceRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub app_version: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<PushProvider>)]
    pub push_provider: Option<Option<PushProvider>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub push_token: Option<Option<String>>,
}

securecam_storage::redacted_debug!(CreateDeviceRequest { name, role, platform, app_version, push_provider; secret: push_token });
securecam_storage::redacted_debug!(CreatedDevice { device; secret: device_token });
securecam_storage::redacted_debug!(UpdateDeviceRequest { name, app_version, push_provider; secret: push_token });

/// Tells "absent" (outer None, via `default`) from "null" (Some(None)).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn validate_app_version(version: &Option<String>) -> ApiResult<()> {
    if version
        .as_ref()
        .is_some_and(|v| v.is_empty() || v.len() > 64)
    {
        return Err(ApiError::invalid("app_version must be 1 to 64 characters"));
    }
    Ok(())
}

/// A push token needs its provider, and a Web Push token must be a subscription.
fn validate_push(provider: Option<PushProvider>, token: Option<&str>) -> ApiResult<()> {
    match (provider, token) {
        (_, Some(token)) if token.is_empty() || token.len() > MAX_PUSH_TOKEN_LEN => {
            Err(ApiError::invalid("push_token must be 1 to 4096 characters"))
        }
        (None, Some(_)) => Err(ApiError::invalid("push_token needs push_provider")),
        (Some(PushProvider::WebPush), Some(token)) => {
            let sub: serde_json::Value = serde_json::from_str(token).map_err(|_| {
                ApiError::invalid("a webpush push_token is a PushSubscription as JSON text")
            })?;
            let ok = sub["endpoint"]
                .as_str()
                .is_some_and(|e| e.starts_with("https://") || e.starts_with("http://"))
                && sub["keys"]["p256dh"].is_string()
                && sub["keys"]["auth"].is_string();
            if ok {
                Ok(())
            } else {
                Err(ApiError::invalid(
                    "a webpush push_token needs endpoint, keys.p256dh and keys.auth",
                ))
            }
        }
        _ => Ok(()),
    }
}

/// The device `id` as this caller may see it, or 404.
async fn visible_device(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Device> {
    let id = parse_id(id, "device")?;
    if caller.device_id().is_some_and(|own| own != id) {
        return Err(ApiError::not_found("device"));
    }
    state
        .db()
        .get_device(caller.owner_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))
}

/// Register a device; its token is in the reply, once.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])),
    request_body = CreateDeviceRequest,
    responses((status = 201, body = CreatedDevice), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn create_device(
    State(state): State<AppState>,
    caller: UserCaller,
    client: ClientInfo,
    ApiJson(body): ApiJson<CreateDeviceRequest>,
) -> ApiResult<(StatusCode, Json<CreatedDevice>)> {
    let name = validate_name(&body.name)?;
    validate_app_version(&body.app_version)?;
    validate_push(body.push_provider, body.push_token.as_deref())?;
    let token = tokens::generate(DEVICE_TOKEN_PREFIX);
    let audit = NewAuditLog::new("device.create")
        .ip(client.ip_string())
        .metadata(json!({"name": name, "role": body.role, "platform": body.platform}));
    let device = state
        .db()
        .create_device(
            NewDevice {
                user_id: caller.user_id(),
                name,
                role: body.role,
                platform: body.platform,
                app_version: body.app_version,
                push_provider: body.push_provider,
                push_token: body.push_token,
            },
            &tokens::hash(&token),
            audit,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedDevice {
            device,
            device_token: token,
        }),
    ))
}

/// The caller's devices, newest first (a device token sees only itself).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Device>), (status = 401, body = Problem)))]
pub async fn list_devices(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Device>>> {
    let page = query.page()?;
    match caller {
        Caller::User { session } => Ok(Json(state.db().list_devices(session.user_id, page).await?)),
        Caller::Device { device } => {
            let items = if page.after.is_some_and(|c| c.0 <= device.id) {
                vec![]
            } else {
                vec![device]
            };
            Ok(Json(Page {
                items,
                next_cursor: None,
            }))
        }
    }
}

/// One of the caller's devices, or a camera another owner shared with one of them (read only).
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = Device), (status = 404, body = Problem)))]
pub async fn get_device(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Device>> {
    match visible_device(&state, &caller, &id).await {
        // A camera someone shared with the caller can be looked at (its name, whether it is
        // online), not changed: the other routes stay the owner's.
        Err(not_found) if caller.device_id().is_none() => {
            let id = parse_id(&id, "device")?;
            state
                .db()
                .get_shared_camera(caller.owner_id(), id)
                .await?
                .map(Json)
                .ok_or(not_found)
        }
        other => other.map(Json),
    }
}

/// Rename a device, or update its app version or push registration.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateDeviceRequest,
    responses((status = 200, body = Device), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_device(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateDeviceRequest>,
) -> ApiResult<Json<Device>> {
    let current = visible_device(&state, &caller, &id).await?;
    let name = body.name.as_deref().map(validate_name).transpose()?;
    if let Some(version) = &body.app_version {
        validate_app_version(version)?;
    }
    // Check the push pair as it will be after the update.
    let provider = body.push_provider.unwrap_or(current.push_provider);
    if let Some(token) = &body.push_token {
        validate_push(provider, token.as_deref())?;
    }
    // A token belongs to its provider: changing or clearing the provider without sending a
    // new token drops the old one rather than leave, say, an FCM token marked `webpush`.
    let drops_token = body.push_token.is_none()
        && body
            .push_provider
            .is_some_and(|p| p != current.push_provider);
    let changed: Vec<&str> = [
        ("name", name.is_some()),
        ("app_version", body.app_version.is_some()),
        ("push_provider", body.push_provider.is_some()),
        ("push_token", body.push_token.is_some() || drops_token),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    let patch = DevicePatch {
        name,
        app_version: body.app_version,
        push_provider: body.push_provider,
        push_token: if drops_token {
            Some(None)
        } else {
            body.push_token
        },
    };
    let audit = NewAuditLog::new("device.update")
        .actor_device(caller.device_id())
        .ip(client.ip_string())
        .metadata(json!({ "fields": changed }));
    let device = state
        .db()
        .update_device(caller.owner_id(), current.id, patch, audit)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))?;
    state.revoke(Revocation::Device { id: device.id });
    Ok(Json(device))
}

/// Delete a device: its token stops working, its links go, its streams end.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_device(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let device = visible_device(&state, &caller, &id).await?;
    // A device deleting itself is not named as actor: the row would point at nothing.
    let audit = NewAuditLog::new("device.delete")
        .actor_device(caller.device_id().filter(|&d| d != device.id))
        .ip(client.ip_string())
        .metadata(json!({"name": device.name}));
    if !state
        .db()
        .delete_device(caller.owner_id(), device.id, audit)
        .await?
    {
        return Err(ApiError::not_found("device"));
    }
    state.device_removed(device.id);
    Ok(StatusCode::NO_CONTENT)
}
