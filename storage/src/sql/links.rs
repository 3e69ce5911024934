//! Device links and sharing invites.

use super::access;
use super::commands::cancel_link_commands;
use super::prelude::*;
use crate::{
    new_id, now, AcceptOutcome, DeviceLink, InviteOutcome, LinkInvite, LinkOutcome, NewAuditLog,
    Page, PageRequest, StorageResult,
};

const LINK_COLUMNS: &str =
    "id, owner_user_id, camera_device_id, client_device_id, status, created_at, updated_at";

#[async_trait]
impl<B: Backend> crate::LinkStore for SqlDatabase<B> {
    async fn create_device_link(
        &self,
        owner: Uuid,
        camera: Uuid,
        client: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<LinkOutcome> {
        let roles: Vec<(Uuid, bool)> =
            query("SELECT id, is_camera FROM devices WHERE user_id = $1 AND id IN ($2, $3)")
                .bind(owner)
                .bind(camera)
                .bind(client)
                .fetch_all(self.pool())
                .await?;
        let found = |id: Uuid| {
            roles
                .iter()
                .find(|(d, _)| *d == id)
                .map(|(_, is_camera)| *is_camera)
        };
        match (found(camera), found(client)) {
            (Some(true), Some(_)) if camera != client => {}
            (Some(false), Some(_)) => return Ok(LinkOutcome::NotACamera),
            _ => return Ok(LinkOutcome::NotFound),
        }
        let at = now();
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "INSERT INTO device_links (id, owner_user_id, camera_device_id, client_device_id, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5) RETURNING {LINK_COLUMNS}"
        );
        let created: Result<DeviceLink, sqlx::Error> = query(&sql)
            .bind(new_id())
            .bind(owner)
            .bind(camera)
            .bind(client)
            .bind(at)
            .fetch_one(&mut tx)
            .await;
        let link = match created {
            Ok(link) => link,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(LinkOutcome::Exists)
            }
            Err(e) => return Err(e.into()),
        };
        write_audit(&mut tx, audit.or_target(owner, "device_link", link.id)).await?;
        tx.commit().await?;
        Ok(LinkOutcome::Created(link))
    }

    async fn list_device_links(
        &self,
        user: Uuid,
        page: PageRequest,
    ) -> StorageResult<Page<DeviceLink>> {
        let page_sql = keyset("id", 2);
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM device_links WHERE {} AND {page_sql}",
            access::link_visible_to("$1")
        );
        let rows: Page<DeviceLink> = query(&sql)
            .bind(user)
            .fetch_page(page, self.pool(), |l: &DeviceLink| l.id)
            .await?;
        Ok(rows)
    }

    async fn revoke_device_link(
        &self,
        user: Uuid,
        id: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<Option<DeviceLink>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE device_links SET status = 'revoked', updated_at = $1 WHERE id = $2 \
             AND status = 'active' AND {} RETURNING {LINK_COLUMNS}",
            access::link_visible_to("$3")
        );
        let revoked: Option<DeviceLink> = query(&sql)
            .bind(now())
            .bind(id)
            .bind(user)
            .fetch_optional(&mut tx)
            .await?;
        if let Some(link) = &revoked {
            cancel_link_commands(&mut tx, link.camera_device_id, link.client_device_id, now())
                .await?;
            write_audit(
                &mut tx,
                audit.or_target(link.owner_user_id, "device_link", link.id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn create_link_invite(
        &self,
        owner: Uuid,
        camera: Uuid,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<InviteOutcome> {
        let is_camera: Option<bool> =
            query_scalar("SELECT is_camera FROM devices WHERE id = $1 AND user_id = $2")
                .bind(camera)
                .bind(owner)
                .fetch_optional(self.pool())
                .await?;
        match is_camera {
            None => return Ok(InviteOutcome::NotFound),
            Some(false) => return Ok(InviteOutcome::NotACamera),
            Some(true) => {}
        }
        let mut tx = self.begin_write().await?;
        let invite: LinkInvite = query(
            "INSERT INTO device_link_invites (id, owner_user_id, camera_device_id, code_hash, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, owner_user_id, camera_device_id, expires_at, accepted_at",
        )
        .bind(new_id())
        .bind(owner)
        .bind(camera)
        .bind(code_hash)
        .bind(expires_at)
        .bind(now())
        .fetch_one(&mut tx)
        .await?;
        write_audit(
            &mut tx,
            audit.or_target(owner, "device_link_invite", invite.id),
        )
        .await?;
        tx.commit().await?;
        Ok(InviteOutcome::Created(invite))
    }

    async fn accept_link_invite(
        &self,
        code_hash: &str,
        user: Uuid,
        client: Uuid,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<AcceptOutcome> {
        let mut tx = self.begin_write().await?;
        // Read through an UPDATE: it takes the lock first, so an invite is accepted once.
        let invite: Option<LinkInvite> = query(
            "UPDATE device_link_invites SET code_hash = code_hash WHERE code_hash = $1 \
             RETURNING id, owner_user_id, camera_device_id, expires_at, accepted_at",
        )
        .bind(code_hash)
        .fetch_optional(&mut tx)
        .await?;
        let Some(invite) = invite else {
            return Ok(AcceptOutcome::NotFound);
        };
        if invite.accepted_at.is_some() || invite.expires_at <= now {
            return Ok(AcceptOutcome::Gone);
        }
        let owned: Option<Uuid> =
            query_scalar("SELECT id FROM devices WHERE id = $1 AND user_id = $2")
                .bind(client)
                .bind(user)
                .fetch_optional(&mut tx)
                .await?;
        if owned.is_none() || client == invite.camera_device_id {
            return Ok(AcceptOutcome::NotFound);
        }
        let sql = format!(
            "INSERT INTO device_links (id, owner_user_id, camera_device_id, client_device_id, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5) RETURNING {LINK_COLUMNS}"
        );
        let created: Result<DeviceLink, sqlx::Error> = query(&sql)
            .bind(new_id())
            .bind(invite.owner_user_id)
            .bind(invite.camera_device_id)
            .bind(client)
            .bind(now)
            .fetch_one(&mut tx)
            .await;
        let link = match created {
            Ok(link) => link,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(AcceptOutcome::Exists)
            }
            Err(e) => return Err(e.into()),
        };
        query(
            "UPDATE device_link_invites SET accepted_at = $1, accepted_by_user_id = $2, device_link_id = $3 \
             WHERE id = $4",
        )
        .bind(now)
        .bind(user)
        .bind(link.id)
        .bind(invite.id)
        .execute(&mut tx)
        .await?;
        // Recorded on the camera owner's trail: it is their camera that is now shared.
        write_audit(
            &mut tx,
            audit.or_target(invite.owner_user_id, "device_link", link.id),
        )
        .await?;
        tx.commit().await?;
        Ok(AcceptOutcome::Linked(link))
    }

    async fn linked_clients(&self, camera: Uuid) -> StorageResult<Vec<Uuid>> {
        Ok(query_scalar(&access::linked_clients("$1"))
            .bind(camera)
            .fetch_all(self.pool())
            .await?)
    }
}
