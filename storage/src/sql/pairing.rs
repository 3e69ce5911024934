//! Pairing a camera by code: the camera shows a code, its owner claims it, the camera's poll
//! collects its device token.

use super::devices::DEVICE_COLUMNS;
use super::prelude::*;
use crate::{
    new_id, now, ClaimOutcome, Device, NewAuditLog, NewPairingCode, PairingCode, PairingStatus,
    PollOutcome, StorageResult,
};

const PAIRING_COLUMNS: &str =
    "id, name, platform, status, claimed_by_user_id, device_id, expires_at";

#[async_trait]
impl<B: Backend> crate::PairingStore for SqlDatabase<B> {
    async fn create_pairing_code(&self, code: NewPairingCode) -> StorageResult<PairingCode> {
        let at = now();
        let sql = format!(
            "INSERT INTO pairing_codes (id, code_hash, poll_token_hash, name, platform, status, \
             expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7) \
             RETURNING {PAIRING_COLUMNS}"
        );
        Ok(query(&sql)
            .bind(new_id())
            .bind(&code.code_hash)
            .bind(&code.poll_token_hash)
            .bind(&code.name)
            .bind(code.platform.as_str())
            .bind(code.expires_at)
            .bind(at)
            .fetch_one(self.pool())
            .await?)
    }

    async fn claim_pairing_code(
        &self,
        code_hash: &str,
        owner: Uuid,
        viewer_device_id: Option<Uuid>,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<ClaimOutcome> {
        let mut tx = self.begin_write().await?;
        // Reading through an UPDATE takes the write lock (SQLite) or the row lock
        // (PostgreSQL) first, so two claims of one code run one after the other.
        let sql = format!(
            "UPDATE pairing_codes SET updated_at = $1 WHERE code_hash = $2 RETURNING {PAIRING_COLUMNS}"
        );
        let code: Option<PairingCode> = query(&sql)
            .bind(now)
            .bind(code_hash)
            .fetch_optional(&mut tx)
            .await?;
        let Some(code) = code else {
            return Ok(ClaimOutcome::NotFound);
        };
        if code.status != PairingStatus::Pending || code.expires_at <= now {
            return Ok(ClaimOutcome::Gone);
        }
        if let Some(viewer) = viewer_device_id {
            let owned: Option<Uuid> =
                query_scalar("SELECT id FROM devices WHERE id = $1 AND user_id = $2")
                    .bind(viewer)
                    .bind(owner)
                    .fetch_optional(&mut tx)
                    .await?;
            if owned.is_none() {
                return Ok(ClaimOutcome::NotFound);
            }
        }
        let sql = format!(
            "INSERT INTO devices (id, user_id, name, role, platform, status, is_camera, created_at, \
             updated_at) VALUES ($1, $2, $3, 'camera', $4, 'offline', $5, $6, $6) RETURNING {DEVICE_COLUMNS}"
        );
        let device: Device = query(&sql)
            .bind(new_id())
            .bind(owner)
            .bind(&code.name)
            .bind(code.platform.as_str())
            .bind(true)
            .bind(now)
            .fetch_one(&mut tx)
            .await?;
        if let Some(viewer) = viewer_device_id {
            query(
                "INSERT INTO device_links (id, owner_user_id, camera_device_id, client_device_id, status, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5)",
            )
            .bind(new_id())
            .bind(owner)
            .bind(device.id)
            .bind(viewer)
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        query(
            "UPDATE pairing_codes SET status = 'claimed', claimed_by_user_id = $1, device_id = $2, \
             viewer_device_id = $3, claimed_at = $4, updated_at = $4 WHERE id = $5",
        )
        .bind(owner)
        .bind(device.id)
        .bind(viewer_device_id)
        .bind(now)
        .bind(code.id)
        .execute(&mut tx)
        .await?;
        write_audit(&mut tx, audit.or_target(owner, "device", device.id)).await?;
        tx.commit().await?;
        Ok(ClaimOutcome::Claimed(device))
    }

    async fn poll_pairing_code(
        &self,
        poll_token_hash: &str,
        device_token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<PollOutcome> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE pairing_codes SET updated_at = $1 WHERE poll_token_hash = $2 RETURNING {PAIRING_COLUMNS}"
        );
        let code: Option<PairingCode> = query(&sql)
            .bind(now)
            .bind(poll_token_hash)
            .fetch_optional(&mut tx)
            .await?;
        let outcome = match code {
            Some(code) if code.status == PairingStatus::Claimed => {
                let device_id = code.device_id.expect("a claimed code names its device");
                query(
                    "INSERT INTO device_tokens (id, device_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(new_id())
                .bind(device_id)
                .bind(device_token_hash)
                .bind(now)
                .execute(&mut tx)
                .await?;
                query(
                    "UPDATE pairing_codes SET status = 'delivered', updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(code.id)
                .execute(&mut tx)
                .await?;
                let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
                let device: Device = query(&sql).bind(device_id).fetch_one(&mut tx).await?;
                PollOutcome::Delivered(device)
            }
            Some(code) if code.status == PairingStatus::Pending && code.expires_at > now => {
                PollOutcome::Pending
            }
            _ => PollOutcome::Gone,
        };
        tx.commit().await?;
        Ok(outcome)
    }
}
