use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// What a device does: a camera publishes, a viewer watches.
    DeviceRole { Camera => "camera", Viewer => "viewer" }
}

crate::text_enum! {
    Platform { Ios => "ios", Android => "android", Web => "web" }
}

crate::text_enum! {
    DeviceStatus { Online => "online", Offline => "offline" }
}

crate::text_enum! {
    /// Which push service the device's `push_token` belongs to.
    PushProvider { Fcm => "fcm", Apns => "apns", WebPush => "webpush" }
}

/// A phone or browser of a user. The push token is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Device {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: DeviceRole,
    /// Same as `role == "camera"`; kept because the data model has it.
    pub is_camera: bool,
    #[sqlx(try_from = "String")]
    pub platform: Platform,
    pub app_version: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: DeviceStatus,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Which push service the device registered with, if any (the token itself stays secret).
    #[sqlx(try_from = "OptionalText")]
    pub push_provider: Option<PushProvider>,
    /// Percent, as last reported with a heartbeat; `null` when never reported.
    pub battery_level: Option<i16>,
    /// Whether it was charging then; `null` when not known.
    pub battery_charging: Option<bool>,
    pub battery_reported_at: Option<DateTime<Utc>>,
}

/// A battery reading: percent and, when the device can tell, whether it is charging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Battery {
    pub level: i16,
    pub charging: Option<bool>,
}

/// Column wrapper so a nullable text column can decode into `Option<enum>` via `try_from`.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct OptionalText(pub Option<String>);

impl TryFrom<OptionalText> for Option<PushProvider> {
    type Error = String;
    fn try_from(value: OptionalText) -> Result<Self, String> {
        value.0.map(|s| s.parse()).transpose()
    }
}

#[derive(Clone)]
pub struct NewDevice {
    pub user_id: Uuid,
    pub name: String,
    pub role: DeviceRole,
    pub platform: Platform,
    pub app_version: Option<String>,
    pub push_provider: Option<PushProvider>,
    pub push_token: Option<String>,
}

/// A partial update; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Clone, Default)]
pub struct DevicePatch {
    pub name: Option<String>,
    pub app_version: Option<Option<String>>,
    pub push_provider: Option<Option<PushProvider>>,
    pub push_token: Option<Option<String>>,
}

/// A device together with the push credentials the notifier needs; never serialised.
#[derive(Clone, sqlx::FromRow)]
pub struct DevicePush {
    pub device_id: Uuid,
    pub push_provider: Option<String>,
    pub push_token: Option<String>,
}

crate::redacted_debug!(NewDevice { user_id, name, role, platform, app_version, push_provider; secret: push_token });
crate::redacted_debug!(DevicePatch { name, app_version, push_provider; secret: push_token });
crate::redacted_debug!(DevicePush { device_id, push_provider; secret: push_token });
