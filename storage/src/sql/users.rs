//! Accounts: users, their sessions and one-time secrets.

use super::prelude::*;
use crate::{
    new_id, now, NewAuditLog, NewSession, NewUser, Page, PageRequest, Session, StorageResult, User,
    UserCredentials, Verification,
};

const USER_COLUMNS: &str = "id, email, name, email_verified, created_at, updated_at";
const SESSION_COLUMNS: &str =
    "id, user_id, expires_at, ip_address, user_agent, created_at, updated_at, last_active_at";

#[async_trait]
impl<B: Backend> crate::UserStore for SqlDatabase<B> {
    async fn create_user(&self, user: NewUser, audit: NewAuditLog) -> StorageResult<User> {
        let at = now();
        let sql = format!(
            "INSERT INTO users (id, email, name, password_hash, email_verified, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {USER_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let created: User = query(&sql)
            .bind(new_id())
            .bind(&user.email)
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(false)
            .bind(at)
            .fetch_one(&mut tx)
            .await?;
        write_audit(&mut tx, audit.or_target(created.id, "user", created.id)).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get_user(&self, id: Uuid) -> StorageResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(query(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    async fn get_user_credentials(&self, email: &str) -> StorageResult<Option<UserCredentials>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1");
        Ok(query(&sql).bind(email).fetch_optional(self.pool()).await?)
    }

    async fn set_password_and_revoke_sessions(
        &self,
        user_id: Uuid,
        password_hash: &str,
        audit: NewAuditLog,
    ) -> StorageResult<Vec<Uuid>> {
        let mut tx = self.begin_write().await?;
        query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now())
            .bind(user_id)
            .execute(&mut tx)
            .await?;
        query("DELETE FROM session WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut tx)
            .await?;
        query("DELETE FROM verification WHERE identifier = $1")
            .bind(format!("password-reset:{user_id}"))
            .execute(&mut tx)
            .await?;
        let mut signed_out: Vec<Uuid> = query_scalar(
            "DELETE FROM device_tokens WHERE device_id IN \
             (SELECT id FROM devices WHERE user_id = $1 AND is_camera = $2) RETURNING device_id",
        )
        .bind(user_id)
        .bind(false)
        .fetch_all(&mut tx)
        .await?;
        signed_out.sort();
        signed_out.dedup();
        let audit = audit
            .or_target(user_id, "user", user_id)
            .metadata_field("devices_signed_out", serde_json::json!(signed_out));
        write_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(signed_out)
    }

    async fn create_session(
        &self,
        session: NewSession,
        audit: Option<NewAuditLog>,
    ) -> StorageResult<Session> {
        let at = now();
        let sql = format!(
            "INSERT INTO session (id, token, user_id, expires_at, ip_address, user_agent, created_at, \
             updated_at, last_active_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) RETURNING {SESSION_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let created: Session = query(&sql)
            .bind(new_id())
            .bind(&session.token_hash)
            .bind(session.user_id)
            .bind(session.expires_at)
            .bind(&session.ip_address)
            .bind(&session.user_agent)
            .bind(at)
            .fetch_one(&mut tx)
            .await?;
        if let Some(audit) = audit {
            write_audit(
                &mut tx,
                audit.or_target(created.user_id, "session", created.id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn get_session_by_token_hash(&self, token_hash: &str) -> StorageResult<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM session WHERE token = $1");
        Ok(query(&sql)
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn touch_session(&self, id: Uuid, at: DateTime<Utc>) -> StorageResult<bool> {
        let done = query("UPDATE session SET last_active_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done > 0)
    }

    async fn list_sessions(
        &self,
        user_id: Uuid,
        page: PageRequest,
    ) -> StorageResult<Page<Session>> {
        let page_sql = keyset("id", 2);
        let sql =
            format!("SELECT {SESSION_COLUMNS} FROM session WHERE user_id = $1 AND {page_sql}");
        let rows: Page<Session> = query(&sql)
            .bind(user_id)
            .fetch_page(page, self.pool(), |s: &Session| s.id)
            .await?;
        Ok(rows)
    }

    async fn delete_session(
        &self,
        user_id: Uuid,
        id: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = query("DELETE FROM session WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut tx)
            .await?;
        let deleted = done > 0;
        if deleted {
            write_audit(&mut tx, audit.or_target(user_id, "session", id)).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn delete_stale_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StorageResult<u64> {
        let done = query("DELETE FROM session WHERE expires_at <= $1 OR last_active_at < $2")
            .bind(now)
            .bind(idle_before)
            .execute(self.pool())
            .await?;
        Ok(done)
    }

    async fn create_verification(
        &self,
        identifier: &str,
        value_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StorageResult<Verification> {
        let at = now();
        Ok(query(
            "INSERT INTO verification (id, identifier, value, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, identifier, value, expires_at, created_at",
        )
        .bind(new_id())
        .bind(identifier)
        .bind(value_hash)
        .bind(expires_at)
        .bind(at)
        .fetch_one(self.pool())
        .await?)
    }

    async fn replace_verification(
        &self,
        identifier: &str,
        value_hash: &str,
        expires_at: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<Verification> {
        let at = now();
        let mut tx = self.begin_write().await?;
        // Two replacements of one identifier must not both survive: serialise them.
        B::lock_key(&mut tx, identifier).await?;
        query("DELETE FROM verification WHERE identifier = $1")
            .bind(identifier)
            .execute(&mut tx)
            .await?;
        let created: Verification = query(
            "INSERT INTO verification (id, identifier, value, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, identifier, value, expires_at, created_at",
        )
        .bind(new_id())
        .bind(identifier)
        .bind(value_hash)
        .bind(expires_at)
        .bind(at)
        .fetch_one(&mut tx)
        .await?;
        write_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn delete_expired_verifications(&self, now: DateTime<Utc>) -> StorageResult<u64> {
        let done = query("DELETE FROM verification WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done)
    }

    async fn take_verification(
        &self,
        value_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Verification>> {
        // DELETE ... RETURNING is atomic: of two concurrent takers only one gets the row.
        let taken: Option<Verification> = query(
            "DELETE FROM verification WHERE value = $1 RETURNING id, identifier, value, expires_at, created_at",
        )
        .bind(value_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(taken.filter(|v| v.expires_at > now))
    }
}
