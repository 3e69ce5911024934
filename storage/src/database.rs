use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    AcceptOutcome, AuditLog, Battery, ClaimOutcome, CommandStore, DeliveryStore, Device,
    DeviceLink, DevicePatch, DeviceStatus, EventStore, InviteOutcome, LinkOutcome, NewAuditLog,
    NewDevice, NewPairingCode, NewSession, NewUser, NotificationStore, Page, PageRequest,
    PairingCode, PollOutcome, RecordingStore, RelayStore, Session, StorageResult, StreamStore,
    User, UserCredentials, Verification, WebhookStore,
};

/// Everything SecureCam keeps, behind one interface with a backend per database.
///
/// Every method that performs a sensitive action takes its audit row and writes it in the
/// same transaction: the action and its record commit together or not at all. Owner and
/// target of the row are filled in from the new row where the caller could not know them.
///
/// Ownership is part of every signature that reads or changes a user's rows: a method that
/// takes `owner` only ever sees that owner's rows, so an id of another owner behaves exactly
/// like an id that does not exist (the API turns both into 404).
#[async_trait]
pub trait Database:
    UserStore
    + DeviceStore
    + LinkStore
    + PairingStore
    + AuditStore
    + CommandStore
    + DeliveryStore
    + EventStore
    + NotificationStore
    + RecordingStore
    + RelayStore
    + StreamStore
    + WebhookStore
    + Send
    + Sync
    + 'static
{
    /// Which backend this is, for logs and metrics: `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Applies pending migrations.
    async fn migrate(&self) -> StorageResult<()>;

    /// Whether every migration is applied (for `/readyz`); an error when the database
    /// cannot be reached.
    async fn ready(&self) -> StorageResult<bool>;

    /// Closes the pool after in-flight queries finish.
    async fn close(&self);

    /// Messages between nodes sharing this database; `None` where a deployment is one
    /// process (SQLite).
    fn pubsub(&self) -> Option<std::sync::Arc<dyn crate::PubSub>> {
        None
    }

    /// Notified (`notify_one`) whenever a transaction of this process that queued delivery
    /// jobs commits: the notifier's dispatcher in this process waits on it.
    fn deliveries_queued(&self) -> std::sync::Arc<tokio::sync::Notify>;

    /// Wakes on jobs queued by any process on this database (PostgreSQL's trigger on
    /// `notification_deliveries`); `None` where every writer is this process (SQLite).
    async fn subscribe_deliveries(&self) -> StorageResult<Option<Box<dyn crate::Subscription>>> {
        Ok(None)
    }
}

/// Accounts: users, their sessions and one-time secrets (password resets).
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict` when the email is taken.
    async fn create_user(&self, user: NewUser, audit: NewAuditLog) -> StorageResult<User>;

    async fn get_user(&self, id: Uuid) -> StorageResult<Option<User>>;

    async fn get_user_credentials(&self, email: &str) -> StorageResult<Option<UserCredentials>>;

    /// Sets a new password hash and ends every session of the user, every outstanding
    /// password-reset secret (`password-reset:<user id>`) and the tokens of every device that
    /// is not a camera (what a thief with a session could have made; camera phones paired by
    /// code keep theirs), in one transaction. Returns the devices whose tokens ended.
    async fn set_password_and_revoke_sessions(
        &self,
        user_id: Uuid,
        password_hash: &str,
        audit: NewAuditLog,
    ) -> StorageResult<Vec<Uuid>>;

    async fn create_session(
        &self,
        session: NewSession,
        audit: Option<NewAuditLog>,
    ) -> StorageResult<Session>;

    async fn get_session_by_token_hash(&self, token_hash: &str) -> StorageResult<Option<Session>>;

    /// Records activity for the idle timeout; false when the session no longer exists.
    async fn touch_session(&self, id: Uuid, at: DateTime<Utc>) -> StorageResult<bool>;

    async fn list_sessions(&self, user_id: Uuid, page: PageRequest)
        -> StorageResult<Page<Session>>;

    /// Deletes one session of the user; false when the user has no such session.
    async fn delete_session(
        &self,
        user_id: Uuid,
        id: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<bool>;

    /// Removes sessions past their absolute expiry or idle since before `idle_before`.
    async fn delete_stale_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StorageResult<u64>;

    async fn create_verification(
        &self,
        identifier: &str,
        value_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StorageResult<Verification>;

    /// Replaces every secret with this identifier by a new one (only the newest reset link
    /// works), writing `audit`, in one transaction; concurrent replacements of the same
    /// identifier are serialised, so exactly one secret remains.
    async fn replace_verification(
        &self,
        identifier: &str,
        value_hash: &str,
        expires_at: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<Verification>;

    /// Removes expired secrets.
    async fn delete_expired_verifications(&self, now: DateTime<Utc>) -> StorageResult<u64>;

    /// Deletes and returns the secret with this hash if it exists and has not expired:
    /// a secret can be used once, even by two concurrent requests.
    async fn take_verification(
        &self,
        value_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Verification>>;
}

/// Devices, their tokens, presence and battery, and WebSocket tickets.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Creates a device and its first token (hash) in one transaction.
    async fn create_device(
        &self,
        device: NewDevice,
        token_hash: &str,
        audit: NewAuditLog,
    ) -> StorageResult<Device>;

    async fn get_device(&self, owner: Uuid, id: Uuid) -> StorageResult<Option<Device>>;

    async fn get_device_by_token_hash(&self, token_hash: &str) -> StorageResult<Option<Device>>;

    /// Another owner's camera that `user` may watch: linked, with an active link, to one of
    /// `user`'s devices.
    async fn get_shared_camera(&self, user: Uuid, id: Uuid) -> StorageResult<Option<Device>>;

    /// Records a device going online or offline (WebSocket presence) and when it was last
    /// seen; `None` when the device no longer exists.
    async fn set_device_presence(
        &self,
        id: Uuid,
        status: DeviceStatus,
        at: DateTime<Utc>,
    ) -> StorageResult<Option<Device>>;

    /// Records the battery a device reported with a heartbeat.
    async fn record_battery(
        &self,
        id: Uuid,
        battery: Battery,
        at: DateTime<Utc>,
    ) -> StorageResult<()>;

    /// Stores a single-use ticket (hash) that lets a browser open the device's WebSocket.
    async fn create_ws_ticket(
        &self,
        device_id: Uuid,
        ticket_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StorageResult<()>;

    /// Uses a ticket: the device it was issued to, if it exists, is unused and unexpired.
    /// A ticket works once, even for two concurrent requests.
    async fn use_ws_ticket(
        &self,
        ticket_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<Device>>;

    async fn list_devices(&self, owner: Uuid, page: PageRequest) -> StorageResult<Page<Device>>;

    async fn update_device(
        &self,
        owner: Uuid,
        id: Uuid,
        patch: DevicePatch,
        audit: NewAuditLog,
    ) -> StorageResult<Option<Device>>;

    /// Deletes a device: its tokens and links go with it, its open stream sessions end.
    async fn delete_device(&self, owner: Uuid, id: Uuid, audit: NewAuditLog)
        -> StorageResult<bool>;
}

/// Device links (a client device may watch and command a camera) and sharing invites.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Links `client` to `camera`, both `owner`'s, with `audit`.
    async fn create_device_link(
        &self,
        owner: Uuid,
        camera: Uuid,
        client: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<LinkOutcome>;

    /// Links the user can see: those of their cameras and those to their own devices.
    async fn list_device_links(
        &self,
        user: Uuid,
        page: PageRequest,
    ) -> StorageResult<Page<DeviceLink>>;

    /// Revokes an active link visible to `user` (see `list_device_links`), with `audit`.
    async fn revoke_device_link(
        &self,
        user: Uuid,
        id: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<Option<DeviceLink>>;

    /// Invites another person to link one of their devices to `camera` (the owner's camera).
    async fn create_link_invite(
        &self,
        owner: Uuid,
        camera: Uuid,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<InviteOutcome>;

    /// Accepts an invite for `user`'s device `client`: an active link owned by the camera's
    /// owner, once per invite, with `audit`.
    async fn accept_link_invite(
        &self,
        code_hash: &str,
        user: Uuid,
        client: Uuid,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<AcceptOutcome>;

    /// The client devices with an active link to `camera`.
    async fn linked_clients(&self, camera: Uuid) -> StorageResult<Vec<Uuid>>;
}

/// Pairing a new camera by code.
#[async_trait]
pub trait PairingStore: Send + Sync {
    async fn create_pairing_code(&self, code: NewPairingCode) -> StorageResult<PairingCode>;

    /// Claims a pending, unexpired code for `owner`: creates the camera device (without a
    /// token; the camera fetches it by polling) and, when `viewer_device_id` is one of the
    /// owner's devices, an active link from it to the camera — all with `audit`, in one
    /// transaction. A code is claimed at most once, even by concurrent claims.
    async fn claim_pairing_code(
        &self,
        code_hash: &str,
        owner: Uuid,
        viewer_device_id: Option<Uuid>,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<ClaimOutcome>;

    /// Polls with a poll token; once claimed, stores `device_token_hash` as the device's
    /// token and reports the device, exactly once.
    async fn poll_pairing_code(
        &self,
        poll_token_hash: &str,
        device_token_hash: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<PollOutcome>;
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn insert_audit_log(&self, entry: NewAuditLog) -> StorageResult<()>;

    async fn list_audit_logs(
        &self,
        owner: Uuid,
        page: PageRequest,
    ) -> StorageResult<Page<AuditLog>>;
}
