//! SQLite backend: the embedded default, so a household runs one binary with no services.
//!
//! WAL lets readers proceed while one writer writes; `foreign_keys` is off by default in
//! SQLite and must be switched on per connection; the busy timeout makes a second writer wait
//! instead of failing with SQLITE_BUSY.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use securecam_storage::{
    new_id, now, AcceptOutcome, AuditLog, Battery, ClaimOutcome, Database, Device, DeviceLink,
    DevicePatch, DeviceStatus, InviteOutcome, LinkInvite, LinkOutcome, NewAuditLog, NewDevice,
    NewPairingCode, NewSession, NewUser, Page, PageRequest, PairingCode, PairingStatus,
    PollOutcome, Session, StorageResult, User, UserCredentials, Verification,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

const USER_COLUMNS: &str = "id, email, name, email_verified, created_at, updated_at";
const SESSION_COLUMNS: &str =
    "id, user_id, expires_at, ip_address, user_agent, created_at, updated_at, last_active_at";
const DEVICE_COLUMNS: &str = "id, user_id, name, role, is_camera, platform, app_version, status, \
     last_seen_at, created_at, updated_at, push_provider, battery_level, battery_charging, \
     battery_reported_at";
const PAIRING_COLUMNS: &str =
    "id, name, platform, status, claimed_by_user_id, device_id, expires_at";
const LINK_COLUMNS: &str =
    "id, owner_user_id, camera_device_id, client_device_id, status, created_at, updated_at";
const AUDIT_COLUMNS: &str =
    "id, owner_user_id, actor_device_id, action, target_type, target_id, metadata, ip_address, created_at";

#[derive(Clone, Debug)]
pub struct SqliteDatabase {
    pool: SqlitePool,
    /// One write transaction at a time (see `begin_write`).
    write_turn: Arc<Semaphore>,
    /// Wakes the notifier when a transaction queued delivery jobs (this process is the only
    /// writer, so nothing else needs telling).
    deliveries: Arc<tokio::sync::Notify>,
}

/// Write transactions take turns (see `begin_write`): no two claims ever overlap.
const SKIP_LOCKED: &str = "";

/// A write transaction that holds this process's turn to write until it ends.
struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _turn: OwnedSemaphorePermit,
}

impl WriteTx {
    async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl SqliteDatabase {
    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://./data/securecam.db`.
    pub async fn connect(url: &str) -> StorageResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an OS crash can
            // lose the last transactions, which is the usual trade for an embedded server.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        Ok(SqliteDatabase {
            pool,
            write_turn: Arc::new(Semaphore::new(1)),
            deliveries: Default::default(),
        })
    }

    /// A transaction that will write. `BEGIN IMMEDIATE` takes the write lock up front: a
    /// deferred transaction that reads first can fail its later upgrade with SQLITE_BUSY when
    /// another connection wrote in between, and the busy timeout does not help there.
    ///
    /// Write transactions take turns here first. SQLite has one write lock; a connection that
    /// finds it taken sleeps in SQLite's busy handler (1, 2, 5, 10... ms) instead of being
    /// woken when it is free, which under load cost more than the writes themselves
    /// (BENCHMARKS.md). Single-statement writes do not queue here: they hold the lock for one
    /// statement only, and both queueing them too and funnelling every write through one
    /// connection were measured slower.
    async fn begin_write(&self) -> sqlx::Result<WriteTx> {
        let turn = self
            .write_turn
            .clone()
            .acquire_owned()
            .await
            .expect("the write semaphore is never closed");
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, _turn: turn })
    }

    /// Writes that may be lost in a crash without harm (see the PostgreSQL backend); SQLite's
    /// `synchronous = NORMAL` already commits them without waiting for the disk.
    fn relaxed_pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

securecam_storage::impl_shared_stores!(SqliteDatabase, SqliteConnection);

fn after_id(page: &PageRequest) -> Option<Uuid> {
    page.after.map(|cursor| cursor.0)
}

#[async_trait]
impl Database for SqliteDatabase {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> StorageResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ready(&self) -> StorageResult<bool> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        // No migrations table yet means nothing is applied: not ready, but not an error.
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .unwrap_or_default();
        Ok(MIGRATOR.iter().all(|m| applied.contains(&m.version)))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn deliveries_queued(&self) -> Arc<tokio::sync::Notify> {
        self.deliveries.clone()
    }

    async fn create_user(&self, user: NewUser, audit: NewAuditLog) -> StorageResult<User> {
        let at = now();
        let sql = format!(
            "INSERT INTO users (id, email, name, password_hash, email_verified, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING {USER_COLUMNS}"
        );
        let mut tx = self.begin_write().await?;
        let created: User = sqlx::query_as(&sql)
            .bind(new_id())
            .bind(&user.email)
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
        write_audit(&mut tx, audit.or_target(created.id, "user", created.id)).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get_user(&self, id: Uuid) -> StorageResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn get_user_credentials(&self, email: &str) -> StorageResult<Option<UserCredentials>> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1");
        Ok(sqlx::query_as(&sql)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_password_and_revoke_sessions(
        &self,
        user_id: Uuid,
        password_hash: &str,
        audit: NewAuditLog,
    ) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM session WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM verification WHERE identifier = $1")
            .bind(format!("password-reset:{user_id}"))
            .execute(&mut *tx)
            .await?;
        write_audit(&mut tx, audit.or_target(user_id, "user", user_id)).await?;
        tx.commit().await?;
        Ok(())
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
        let created: Session = sqlx::query_as(&sql)
            .bind(new_id())
            .bind(&session.token_hash)
            .bind(session.user_id)
            .bind(session.expires_at)
            .bind(&session.ip_address)
            .bind(&session.user_agent)
            .bind(at)
            .fetch_one(&mut *tx)
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
        Ok(sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn touch_session(&self, id: Uuid, at: DateTime<Utc>) -> StorageResult<bool> {
        let done = sqlx::query("UPDATE session SET last_active_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_sessions(
        &self,
        user_id: Uuid,
        page: PageRequest,
    ) -> StorageResult<Page<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM session WHERE user_id = $1 AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<Session> = sqlx::query_as(&sql)
            .bind(user_id)
            .bind(after_id(&page))
            .bind(page.fetch_limit())
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(rows, page, |s| s.id))
    }

    async fn delete_session(
        &self,
        user_id: Uuid,
        id: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM session WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let deleted = done.rows_affected() > 0;
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
        let done = sqlx::query("DELETE FROM session WHERE expires_at <= $1 OR last_active_at < $2")
            .bind(now)
            .bind(idle_before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn create_verification(
        &self,
        identifier: &str,
        value_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StorageResult<Verification> {
        let at = now();
        Ok(sqlx::query_as(
            "INSERT INTO verification (id, identifier, value, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, identifier, value, expires_at, created_at",
        )
        .bind(new_id())
        .bind(identifier)
        .bind(value_hash)
        .bind(expires_at)
        .bind(at)
        .fetch_one(&self.pool)
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
        // SQLite runs one write transaction at a time, which serialises replacements.
        sqlx::query("DELETE FROM verification WHERE identifier = $1")
            .bind(identifier)
            .execute(&mut *tx)
            .await?;
        let created: Verification = sqlx::query_as(
            "INSERT INTO verification (id, identifier, value, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, identifier, value, expires_at, created_at",
        )
        .bind(new_id())
        .bind(identifier)
        .bind(value_hash)
        .bind(expires_at)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        write_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn delete_expired_verifications(&self, now: DateTime<Utc>) -> StorageResult<u64> {
        let done = sqlx::query("DELETE FROM verification WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn take_verification(
        &self,
        value_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Verification>> {
        // DELETE ... RETURNING is atomic: of two concurrent takers only one gets the row.
        let taken: Option<Verification> = sqlx::query_as(
            "DELETE FROM verification WHERE value = $1 RETURNING id, identifier, value, expires_at, created_at",
        )
        .bind(value_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(taken.filter(|v| v.expires_at > now))
    }

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
        let created: Device = sqlx::query_as(&sql)
            .bind(new_id())
            .bind(device.user_id)
            .bind(&device.name)
            .bind(device.role.as_str())
            .bind(device.platform.as_str())
            .bind(&device.app_version)
            .bind(&device.push_token)
            .bind(device.role == securecam_storage::DeviceRole::Camera)
            .bind(at)
            .bind(device.push_provider.map(|p| p.as_str()))
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO device_tokens (id, device_id, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(new_id())
            .bind(created.id)
            .bind(token_hash)
            .bind(at)
            .execute(&mut *tx)
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
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn get_shared_camera(&self, user: Uuid, id: Uuid) -> StorageResult<Option<Device>> {
        let sql = securecam_storage::shared_sql::devices::shared_camera_sql(DEVICE_COLUMNS);
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn get_device_by_token_hash(&self, token_hash: &str) -> StorageResult<Option<Device>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE id = \
             (SELECT device_id FROM device_tokens WHERE token_hash = $1)"
        );
        Ok(sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
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
        Ok(sqlx::query_as(&sql)
            .bind(status.as_str())
            .bind(at)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn record_battery(
        &self,
        id: Uuid,
        battery: Battery,
        at: DateTime<Utc>,
    ) -> StorageResult<()> {
        sqlx::query(securecam_storage::shared_sql::devices::RECORD_BATTERY_SQL)
            .bind(battery.level)
            .bind(battery.charging)
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_device_link(
        &self,
        owner: Uuid,
        camera: Uuid,
        client: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<LinkOutcome> {
        let roles: Vec<(Uuid, bool)> = sqlx::query_as(
            "SELECT id, is_camera FROM devices WHERE user_id = $1 AND id IN ($2, $3)",
        )
        .bind(owner)
        .bind(camera)
        .bind(client)
        .fetch_all(&self.pool)
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
        let created: Result<DeviceLink, sqlx::Error> = sqlx::query_as(&sql)
            .bind(new_id())
            .bind(owner)
            .bind(camera)
            .bind(client)
            .bind(at)
            .fetch_one(&mut *tx)
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
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM device_links WHERE (owner_user_id = $1 OR client_device_id IN \
             (SELECT id FROM devices WHERE user_id = $1)) AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<DeviceLink> = sqlx::query_as(&sql)
            .bind(user)
            .bind(after_id(&page))
            .bind(page.fetch_limit())
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(rows, page, |l| l.id))
    }

    async fn revoke_device_link(
        &self,
        user: Uuid,
        id: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<Option<DeviceLink>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE device_links SET status = 'revoked', updated_at = $1 WHERE id = $2 AND status = 'active' \
             AND (owner_user_id = $3 OR client_device_id IN (SELECT id FROM devices WHERE user_id = $3)) \
             RETURNING {LINK_COLUMNS}"
        );
        let revoked: Option<DeviceLink> = sqlx::query_as(&sql)
            .bind(now())
            .bind(id)
            .bind(user)
            .fetch_optional(&mut *tx)
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
            sqlx::query_scalar("SELECT is_camera FROM devices WHERE id = $1 AND user_id = $2")
                .bind(camera)
                .bind(owner)
                .fetch_optional(&self.pool)
                .await?;
        match is_camera {
            None => return Ok(InviteOutcome::NotFound),
            Some(false) => return Ok(InviteOutcome::NotACamera),
            Some(true) => {}
        }
        let mut tx = self.begin_write().await?;
        let invite: LinkInvite = sqlx::query_as(
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
        .fetch_one(&mut *tx)
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
        let invite: Option<LinkInvite> = sqlx::query_as(
            "UPDATE device_link_invites SET code_hash = code_hash WHERE code_hash = $1 \
             RETURNING id, owner_user_id, camera_device_id, expires_at, accepted_at",
        )
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(invite) = invite else {
            return Ok(AcceptOutcome::NotFound);
        };
        if invite.accepted_at.is_some() || invite.expires_at <= now {
            return Ok(AcceptOutcome::Gone);
        }
        let owned: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM devices WHERE id = $1 AND user_id = $2")
                .bind(client)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() || client == invite.camera_device_id {
            return Ok(AcceptOutcome::NotFound);
        }
        let sql = format!(
            "INSERT INTO device_links (id, owner_user_id, camera_device_id, client_device_id, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5) RETURNING {LINK_COLUMNS}"
        );
        let created: Result<DeviceLink, sqlx::Error> = sqlx::query_as(&sql)
            .bind(new_id())
            .bind(invite.owner_user_id)
            .bind(invite.camera_device_id)
            .bind(client)
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
        let link = match created {
            Ok(link) => link,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(AcceptOutcome::Exists)
            }
            Err(e) => return Err(e.into()),
        };
        sqlx::query(
            "UPDATE device_link_invites SET accepted_at = $1, accepted_by_user_id = $2, device_link_id = $3 \
             WHERE id = $4",
        )
        .bind(now)
        .bind(user)
        .bind(link.id)
        .bind(invite.id)
        .execute(&mut *tx)
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
        Ok(sqlx::query_scalar(
            "SELECT client_device_id FROM device_links WHERE camera_device_id = $1 AND status = 'active'",
        )
        .bind(camera)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn create_pairing_code(&self, code: NewPairingCode) -> StorageResult<PairingCode> {
        let at = now();
        let sql = format!(
            "INSERT INTO pairing_codes (id, code_hash, poll_token_hash, name, platform, status, \
             expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7) \
             RETURNING {PAIRING_COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(new_id())
            .bind(&code.code_hash)
            .bind(&code.poll_token_hash)
            .bind(&code.name)
            .bind(code.platform.as_str())
            .bind(code.expires_at)
            .bind(at)
            .fetch_one(&self.pool)
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
        let code: Option<PairingCode> = sqlx::query_as(&sql)
            .bind(now)
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(code) = code else {
            return Ok(ClaimOutcome::NotFound);
        };
        if code.status != PairingStatus::Pending || code.expires_at <= now {
            return Ok(ClaimOutcome::Gone);
        }
        if let Some(viewer) = viewer_device_id {
            let owned: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM devices WHERE id = $1 AND user_id = $2")
                    .bind(viewer)
                    .bind(owner)
                    .fetch_optional(&mut *tx)
                    .await?;
            if owned.is_none() {
                return Ok(ClaimOutcome::NotFound);
            }
        }
        let sql = format!(
            "INSERT INTO devices (id, user_id, name, role, platform, status, is_camera, created_at, \
             updated_at) VALUES ($1, $2, $3, 'camera', $4, 'offline', $5, $6, $6) RETURNING {DEVICE_COLUMNS}"
        );
        let device: Device = sqlx::query_as(&sql)
            .bind(new_id())
            .bind(owner)
            .bind(&code.name)
            .bind(code.platform.as_str())
            .bind(true)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        if let Some(viewer) = viewer_device_id {
            sqlx::query(
                "INSERT INTO device_links (id, owner_user_id, camera_device_id, client_device_id, status, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5)",
            )
            .bind(new_id())
            .bind(owner)
            .bind(device.id)
            .bind(viewer)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE pairing_codes SET status = 'claimed', claimed_by_user_id = $1, device_id = $2, \
             viewer_device_id = $3, claimed_at = $4, updated_at = $4 WHERE id = $5",
        )
        .bind(owner)
        .bind(device.id)
        .bind(viewer_device_id)
        .bind(now)
        .bind(code.id)
        .execute(&mut *tx)
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
        let code: Option<PairingCode> = sqlx::query_as(&sql)
            .bind(now)
            .bind(poll_token_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match code {
            Some(code) if code.status == PairingStatus::Claimed => {
                let device_id = code.device_id.expect("a claimed code names its device");
                sqlx::query(
                    "INSERT INTO device_tokens (id, device_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(new_id())
                .bind(device_id)
                .bind(device_token_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE pairing_codes SET status = 'delivered', updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(code.id)
                .execute(&mut *tx)
                .await?;
                let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
                let device: Device = sqlx::query_as(&sql)
                    .bind(device_id)
                    .fetch_one(&mut *tx)
                    .await?;
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

    async fn create_ws_ticket(
        &self,
        device_id: Uuid,
        ticket_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO ws_tickets (id, device_id, ticket_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new_id())
        .bind(device_id)
        .bind(ticket_hash)
        .bind(expires_at)
        .bind(now())
        .execute(&self.pool)
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
        let device_id: Option<Uuid> = sqlx::query_scalar(
            "UPDATE ws_tickets SET used_at = $1 WHERE ticket_hash = $2 AND used_at IS NULL \
             AND expires_at > $1 RETURNING device_id",
        )
        .bind(now)
        .bind(ticket_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(device_id) = device_id else {
            return Ok(None);
        };
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn list_devices(&self, owner: Uuid, page: PageRequest) -> StorageResult<Page<Device>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<Device> = sqlx::query_as(&sql)
            .bind(owner)
            .bind(after_id(&page))
            .bind(page.fetch_limit())
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(rows, page, |d| d.id))
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
        let updated: Option<Device> = sqlx::query_as(&sql)
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
            .fetch_optional(&mut *tx)
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
        sqlx::query(
            "UPDATE stream_sessions SET status = 'ended', end_reason = 'device_deleted', ended_at = $1, \
             updated_at = $1 WHERE (camera_device_id = $3 OR requester_device_id = $3) \
             AND status IN ('requested', 'starting', 'live') \
             AND EXISTS (SELECT 1 FROM devices WHERE id = $3 AND user_id = $2)",
        )
        .bind(at)
        .bind(owner)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM devices WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        let deleted = done.rows_affected() > 0;
        if deleted {
            write_audit(&mut tx, audit.or_target(owner, "device", id)).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn insert_audit_log(&self, entry: NewAuditLog) -> StorageResult<()> {
        let mut conn = self.pool.acquire().await?;
        write_audit(&mut conn, entry).await
    }

    async fn list_audit_logs(
        &self,
        owner: Uuid,
        page: PageRequest,
    ) -> StorageResult<Page<AuditLog>> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_logs WHERE owner_user_id = $1 AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<AuditLog> = sqlx::query_as(&sql)
            .bind(owner)
            .bind(after_id(&page))
            .bind(page.fetch_limit())
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(rows, page, |a| a.id))
    }
}

/// Writes an audit row on `conn`, typically inside the transaction of the action it records.
async fn write_audit(conn: &mut SqliteConnection, entry: NewAuditLog) -> StorageResult<()> {
    sqlx::query(
        "INSERT INTO audit_logs (id, owner_user_id, actor_device_id, action, target_type, target_id, \
         metadata, ip_address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(entry.owner_user_id)
    .bind(entry.actor_device_id)
    .bind(&entry.action)
    .bind(&entry.target_type)
    .bind(&entry.target_id)
    .bind(Json(&entry.metadata))
    .bind(&entry.ip_address)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}
