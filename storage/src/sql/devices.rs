//! Devices, their tokens, presence and battery, and WebSocket tickets.

use super::access;
use super::prelude::*;
use crate::{
    new_id, now, Battery, Device, DevicePatch, DeviceStatus, NewAuditLog, NewDevice, Page,
    PageRequest, StorageResult,
};

pub(crate) const DEVICE_COLUMNS: &str =
    "id, user_id, name, role, is_camera, platform, app_version, status, \
     last_seen_at, created_at, updated_at, push_provider, battery_level, battery_charging, \
     battery_reported_at";

/// `$1` percent, `$2` charging, `$3` when, `$4` device.
const RECORD_BATTERY_SQL: &str = "UPDATE devices SET battery_level = $1, \
     battery_charging = $2, battery_reported_at = $3 WHERE id = $4";

/// Camera `$1` if an active link joins it to a device of user `$2`.
fn shared_camera_sql(columns: &str) -> String {
    format!(
        "SELECT {columns} FROM devices d WHERE d.id = $1 AND d.is_camera AND {}",
        access::linked_to_user("d.id", "$2")
    )
}

#[async_trait]
impl<B: Backend> crate::DeviceStore for SqlDatabase<B> {
    async fn create_device(
        &self,
        device: NewDevice,
        token_hash: &str,
        audit: NewAuditLog,
    ) -> StorageResult<Device> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "INSERT INTO devices (id, user_id, name, role, platform, app_version, push_token, status, \
             is_camera, created_at, updated_at, push_provider) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'offline', $8, $9, $9, $10) RETURNING {DEVICE_COLUMNS}"
        );
        let created: Device = query(&sql)
            .bind(new_id())
            .bind(device.user_id)
            .bind(&device.name)
            .bind(device.role.as_str())
            .bind(device.platform.as_str())
            .bind(&device.app_version)
            .bind(&device.push_token)
            .bind(device.role == crate::DeviceRole::Camera)
            .bind(at)
            .bind(device.push_provider.map(|p| p.as_str()))
            .fetch_one(&mut tx)
            .await?;
        query("INSERT INTO device_tokens (id, device_id, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(new_id())
            .bind(created.id)
            .bind(token_hash)
            .bind(at)
            .execute(&mut tx)
            .await?;
        write_audit(
            &mut tx,
            audit.or_target(created.user_id, "device", created.id),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get_device(&self, owner: Uuid, id: Uuid) -> StorageResult<Option<Device>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1 AND user_id = $2");
        Ok(query(&sql)
            .bind(id)
            .bind(owner)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn get_device_by_token_hash(&self, token_hash: &str) -> StorageResult<Option<Device>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE id = \
             (SELECT device_id FROM device_tokens WHERE token_hash = $1)"
        );
        Ok(query(&sql)
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn get_shared_camera(&self, user: Uuid, id: Uuid) -> StorageResult<Option<Device>> {
        let sql = shared_camera_sql(DEVICE_COLUMNS);
        Ok(query(&sql)
            .bind(id)
            .bind(user)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn set_device_presence(
        &self,
        id: Uuid,
        status: DeviceStatus,
        at: DateTime<Utc>,
    ) -> StorageResult<Option<Device>> {
        let sql = format!(
            "UPDATE devices SET status = $1, last_seen_at = $2, updated_at = $2 WHERE id = $3 \
             RETURNING {DEVICE_COLUMNS}"
        );
        Ok(query(&sql)
            .bind(status.as_str())
            .bind(at)
            .bind(id)
            .fetch_optional(self.relaxed_pool())
            .await?)
    }

    async fn record_battery(
        &self,
        id: Uuid,
        battery: Battery,
        at: DateTime<Utc>,
    ) -> StorageResult<()> {
        query(RECORD_BATTERY_SQL)
            .bind(battery.level)
            .bind(battery.charging)
            .bind(at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn create_ws_ticket(
        &self,
        device_id: Uuid,
        ticket_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StorageResult<()> {
        query(
            "INSERT INTO ws_tickets (id, device_id, ticket_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new_id())
        .bind(device_id)
        .bind(ticket_hash)
        .bind(expires_at)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn use_ws_ticket(
        &self,
        ticket_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Device>> {
        // One UPDATE marks the ticket used only if it was unused and unexpired, so of two
        // concurrent uses exactly one sees a row.
        let device_id: Option<Uuid> = query_scalar(
            "UPDATE ws_tickets SET used_at = $1 WHERE ticket_hash = $2 AND used_at IS NULL \
             AND expires_at > $1 RETURNING device_id",
        )
        .bind(now)
        .bind(ticket_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(device_id) = device_id else {
            return Ok(None);
        };
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
        Ok(query(&sql)
            .bind(device_id)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn list_devices(&self, owner: Uuid, page: PageRequest) -> StorageResult<Page<Device>> {
        let page_sql = keyset("id", 2);
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND {page_sql}");
        let rows: Page<Device> = query(&sql)
            .bind(owner)
            .fetch_page(page, self.pool(), |d: &Device| d.id)
            .await?;
        Ok(rows)
    }

    async fn update_device(
        &self,
        owner: Uuid,
        id: Uuid,
        patch: DevicePatch,
        audit: NewAuditLog,
    ) -> StorageResult<Option<Device>> {
        // Each optional field is sent with a flag saying whether to change it, so one
        // statement covers every combination without building SQL at run time.
        let sql = format!(
            "UPDATE devices SET \
               name = CASE WHEN $3 THEN $4 ELSE name END, \
               app_version = CASE WHEN $5 THEN $6 ELSE app_version END, \
               push_provider = CASE WHEN $7 THEN $8 ELSE push_provider END, \
               push_token = CASE WHEN $9 THEN $10 ELSE push_token END, \
               updated_at = $11 \
             WHERE id = $1 AND user_id = $2 RETURNING {DEVICE_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let updated: Option<Device> = query(&sql)
            .bind(id)
            .bind(owner)
            .bind(patch.name.is_some())
            .bind(patch.name)
            .bind(patch.app_version.is_some())
            .bind(patch.app_version.flatten())
            .bind(patch.push_provider.is_some())
            .bind(patch.push_provider.flatten().map(|p| p.as_str()))
            .bind(patch.push_token.is_some())
            .bind(patch.push_token.flatten())
            .bind(now())
            .fetch_optional(&mut tx)
            .await?;
        if updated.is_some() {
            write_audit(&mut tx, audit.or_target(owner, "device", id)).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn delete_device(
        &self,
        owner: Uuid,
        id: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<bool> {
        let at = now();
        let mut tx = self.begin_write().await?;
        query(
            "UPDATE stream_sessions SET status = 'ended', end_reason = 'device_deleted', ended_at = $1, \
             updated_at = $1 WHERE (camera_device_id = $3 OR requester_device_id = $3) \
             AND status IN ('requested', 'starting', 'live') \
             AND EXISTS (SELECT 1 FROM devices WHERE id = $3 AND user_id = $2)",
        )
        .bind(at)
        .bind(owner)
        .bind(id)
        .execute(&mut tx)
        .await?;
        let done = query("DELETE FROM devices WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(owner)
            .execute(&mut tx)
            .await?;
        let deleted = done > 0;
        if deleted {
            write_audit(&mut tx, audit.or_target(owner, "device", id)).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
