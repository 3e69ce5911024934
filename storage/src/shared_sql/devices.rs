//! Device statements written once for both backends (each keeps its own `DEVICE_COLUMNS`).

/// `$1` percent, `$2` charging, `$3` when, `$4` device.
pub const RECORD_BATTERY_SQL: &str = "UPDATE devices SET battery_level = $1, \
     battery_charging = $2, battery_reported_at = $3 WHERE id = $4";

/// Camera `$1` if an active link joins it to a device of user `$2`.
pub fn shared_camera_sql(columns: &str) -> String {
    format!(
        "SELECT {columns} FROM devices d WHERE d.id = $1 AND d.is_camera AND EXISTS \
         (SELECT 1 FROM device_links l JOIN devices c ON c.id = l.client_device_id \
          WHERE l.camera_device_id = d.id AND l.status = 'active' AND c.user_id = $2)"
    )
}
