//! The stores of commands, deliveries, events, notifications, recordings, relays, streams and
//! webhooks; [`crate::Database`] has them all (implemented once, in [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    AckOutcome, CancelOutcome, Command, CommandAck, CommandOutcome, CommandStatus, CommandViewer,
    NewAuditLog, NewCommand, Page, PageRequest, RetrySchedule, StorageResult,
};

/// Durable commands to devices (table `commands`).
#[async_trait]
pub trait CommandStore: Send + Sync {
    /// Stores a `queued` command, in one transaction with `audit` and, when the target is
    /// offline and has a push token, a data-only wake-up push (`notification_deliveries`,
    /// type `command_wakeup`, at most one pending per device). Checks in the same transaction
    /// that the sender may command the target: the target's owner, or a device of the sender
    /// with an active link to it.
    async fn create_command(
        &self,
        command: NewCommand,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<CommandOutcome>;

    /// A command the viewer may see: a user sees what they own or sent, a device what was
    /// addressed to it or sent by it.
    async fn get_command(&self, viewer: CommandViewer, id: Uuid) -> StorageResult<Option<Command>>;

    /// Commands to `device` the viewer may see, newest first; `None` when the viewer cannot
    /// see the device at all (not theirs and not linked to one of theirs).
    async fn list_device_commands(
        &self,
        viewer: CommandViewer,
        device: Uuid,
        status: Option<CommandStatus>,
        page: PageRequest,
    ) -> StorageResult<Option<Page<Command>>>;

    /// Takes up to `limit` pending, unexpired commands of `device` for delivery, oldest first,
    /// and marks them `dispatched` with their next attempt per `schedule`. Only those due
    /// (`next_attempt_at <= now`) unless `everything_pending` (a device that just connected
    /// gets all of them at once).
    async fn claim_commands(
        &self,
        device: Uuid,
        now: DateTime<Utc>,
        schedule: RetrySchedule,
        everything_pending: bool,
        limit: u32,
    ) -> StorageResult<Vec<Command>>;

    /// Records a device's answer to a command addressed to it.
    async fn acknowledge_command(
        &self,
        device: Uuid,
        id: Uuid,
        ack: CommandAck,
        now: DateTime<Utc>,
    ) -> StorageResult<AckOutcome>;

    /// Cancels a pending command: by a user who owns or sent it, or by the device that sent it.
    async fn cancel_command(
        &self,
        viewer: CommandViewer,
        id: Uuid,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<CancelOutcome>;

    /// Marks pending commands whose time ran out as `expired` and returns them.
    async fn expire_commands(&self, now: DateTime<Utc>, limit: u32) -> StorageResult<Vec<Command>>;

    /// Online devices with commands due for (re)delivery.
    async fn devices_with_due_commands(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StorageResult<Vec<Uuid>>;
}

/// Push and webhook delivery jobs (table `notification_deliveries`): the owner's view, and
/// the queue the notifier's workers take jobs from. A job is claimed with a lease; a worker
/// that dies leaves it `sending` until the lease runs out and [`DeliveryStore::rescue_deliveries`]
/// puts it back in the queue, so delivery is at-least-once.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// The owner's deliveries, newest first.
    async fn list_notification_deliveries(
        &self,
        owner: Uuid,
        status: Option<crate::DeliveryStatus>,
        page: PageRequest,
    ) -> StorageResult<Page<crate::NotificationDelivery>>;

    /// Takes up to `limit` due jobs (`pending` or `failed` with `next_attempt_at <= now`),
    /// oldest due first, for `worker` until `lease_until`: `sending`, one more attempt. Jobs
    /// another worker is claiming at the same moment are skipped, not waited for.
    async fn claim_deliveries(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StorageResult<Vec<crate::ClaimedDelivery>>;

    /// Records how `worker`'s attempts ended, in one transaction: `sent` jobs in one
    /// statement, the others one by one (a refused push token is cleared and audited with
    /// its job). Reports for jobs no longer leased to `worker` (its lease ran out and the job
    /// was rescued) are ignored: the job is sent again, which at-least-once allows.
    async fn finish_deliveries(
        &self,
        worker: &str,
        reports: &[crate::DeliveryReport],
        now: DateTime<Utc>,
    ) -> StorageResult<()>;

    /// Jobs left `sending` past their lease (their worker died) are due again now, or `dead`
    /// when they have had `max_attempts` attempts. Returns how many were rescued.
    async fn rescue_deliveries(&self, now: DateTime<Utc>, max_attempts: i32) -> StorageResult<u64>;
}

/// What users are told about events (table `notifications`) and how they want to be told
/// (table `notification_preferences`).
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// The user's notifications, newest first; only unread ones with `unread_only`.
    async fn list_notifications(
        &self,
        user: Uuid,
        unread_only: bool,
        page: PageRequest,
    ) -> StorageResult<Page<crate::Notification>>;

    /// Marks one of the user's notifications read (again: unchanged).
    async fn mark_notification_read(
        &self,
        user: Uuid,
        id: Uuid,
    ) -> StorageResult<Option<crate::Notification>>;

    /// The user's preferences; the defaults (no quiet hours, nothing muted, no cooldown) when
    /// none were set.
    async fn notification_preferences(
        &self,
        user: Uuid,
    ) -> StorageResult<crate::NotificationPreferences>;

    /// Replaces the user's preferences (already validated), with `audit`.
    async fn set_notification_preferences(
        &self,
        user: Uuid,
        preferences: &crate::NotificationPreferences,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<crate::NotificationPreferences>;

    /// Which of `ids` are cameras the user may see (their own, or linked to a device of
    /// theirs).
    async fn visible_cameras(&self, user: Uuid, ids: &[Uuid]) -> StorageResult<Vec<Uuid>>;
}

/// Owners' webhook endpoints (tables `webhook_endpoints`, `webhook_subscriptions`).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(
        &self,
        new: crate::NewWebhookEndpoint,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<crate::WebhookEndpoint>;
    /// The owner's endpoints, newest first.
    async fn list_webhooks(
        &self,
        owner: Uuid,
        page: PageRequest,
    ) -> StorageResult<Page<crate::WebhookEndpoint>>;
    async fn get_webhook(
        &self,
        owner: Uuid,
        id: Uuid,
    ) -> StorageResult<Option<crate::WebhookEndpoint>>;
    /// Deletes an endpoint of the owner's and, with it, its undelivered jobs, with `audit`.
    async fn delete_webhook(
        &self,
        owner: Uuid,
        id: Uuid,
        audit: NewAuditLog,
    ) -> StorageResult<bool>;
    /// Queues `{type, timestamp, data}` for each of the owner's enabled endpoints subscribed
    /// to `event_type`. Events and clips queue theirs in the transaction that stores them;
    /// presence changes, which are best effort anyway, come through here. Returns how many
    /// jobs were queued.
    async fn enqueue_webhook_event(
        &self,
        owner: Uuid,
        event_type: crate::WebhookEventType,
        data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> StorageResult<u64>;
}

/// Events (table `events`) with the notifications they cause.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores an active event of a camera and, in the same transaction, a `notifications` row
    /// for its owner and every user with a device linked to it, and a push delivery (type
    /// `event`) for each of those devices with a push token (the owner's devices but the
    /// camera, and the linked devices).
    async fn create_event(
        &self,
        event: crate::NewEvent,
        now: DateTime<Utc>,
    ) -> StorageResult<crate::Event>;
    /// Ends an event of `camera` (only the camera that reported it ends it).
    async fn end_event(
        &self,
        camera: Uuid,
        id: Uuid,
        ended_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StorageResult<crate::EndOutcome>;
    /// Marks an event the viewer may see as acknowledged (again: unchanged).
    async fn acknowledge_event(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<crate::Event>>;
    async fn get_event(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
    ) -> StorageResult<Option<crate::Event>>;
    /// Events the viewer may see, newest first.
    async fn list_events(
        &self,
        viewer: crate::EventViewer,
        filter: crate::EventFilter,
        page: PageRequest,
    ) -> StorageResult<Page<crate::Event>>;
    /// The newest `limit` recordings of an event, oldest of them first (the caller has checked
    /// it may see the event).
    async fn event_recordings(
        &self,
        event: Uuid,
        limit: u32,
    ) -> StorageResult<Vec<crate::Recording>>;
}

/// Stream sessions (table `stream_sessions`). A viewer is a user (user token) or a device
/// (device token): users see sessions of their cameras and those their devices requested;
/// devices those they requested or, for a camera, those of itself.
#[async_trait]
pub trait StreamStore: Send + Sync {
    /// Opens a session if the requester (the user's device) may watch the camera (its own
    /// camera, or one linked to the requester). It starts `live` or `starting` when the
    /// camera already publishes for another session, else `requested`.
    async fn create_stream_session(
        &self,
        new: crate::NewStreamSession,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<crate::StreamOutcome>;
    async fn get_stream_session(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
    ) -> StorageResult<Option<crate::StreamSession>>;
    /// Ends an open session (a closed one is returned as it is).
    async fn end_stream_session(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<Option<crate::StreamSession>>;
    /// The camera acknowledged `start_stream`: its `requested` sessions are `starting`.
    async fn camera_starting(
        &self,
        camera: Uuid,
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::StreamSession>>;
    /// The camera refused or failed `start_stream`: its waiting sessions fail.
    async fn camera_failed_to_start(
        &self,
        camera: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::StreamSession>>;
    /// Sessions still waiting for the camera since before `created_before` fail with
    /// `publish_timeout`.
    async fn fail_unpublished_sessions(
        &self,
        created_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::StreamSession>>;
    /// Open sessions whose requester may no longer watch the camera (its link was revoked,
    /// or it was deleted) end with `reason`.
    async fn end_unwatchable_sessions(
        &self,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::StreamSession>>;
    /// The relay has the camera's publisher: its waiting sessions are `live`.
    async fn camera_live(
        &self,
        camera: Uuid,
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::StreamSession>>;
    /// The camera's stream is gone from the relay: its open sessions end with `reason`.
    async fn end_camera_sessions(
        &self,
        camera: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::StreamSession>>;
    /// Ends one open session for the system (its viewer left the relay); `None` when it is
    /// not open.
    async fn close_stream_session(
        &self,
        id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<crate::StreamSession>>;
    /// Cameras whose last session closed before `ended_before` and that no open session
    /// needs: each is returned once (its sessions are marked released).
    async fn release_idle_cameras(
        &self,
        ended_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::IdleCamera>>;
}

/// Media relays that registered themselves (table `relay_nodes`): each heartbeats its load;
/// signal puts a camera's stream on the least loaded live one.
#[async_trait]
pub trait RelayStore: Send + Sync {
    /// Registers (or re-registers) a relay as `live`.
    async fn register_relay(
        &self,
        node: crate::NewRelayNode,
        now: DateTime<Utc>,
    ) -> StorageResult<crate::RelayNode>;
    /// Records a heartbeat; `false` when the relay is not registered as live (it was declared
    /// gone meanwhile) and must register again.
    async fn relay_heartbeat(
        &self,
        id: Uuid,
        load: crate::RelayLoad,
        now: DateTime<Utc>,
    ) -> StorageResult<bool>;
    /// The relay is shutting down.
    async fn retire_relay(&self, id: Uuid, now: DateTime<Utc>) -> StorageResult<()>;
    /// Live relays that heartbeated since `fresh_since`, least loaded first.
    async fn live_relays(&self, fresh_since: DateTime<Utc>)
        -> StorageResult<Vec<crate::RelayNode>>;
    /// The relay for a new session of `camera`: the one its open sessions already use if it
    /// is still live, else the live relay with the fewest open sessions (what it carries now,
    /// including what was assigned since its last heartbeat), then the fewest reported viewers.
    async fn pick_relay(
        &self,
        camera: Uuid,
        fresh_since: DateTime<Utc>,
    ) -> StorageResult<Option<crate::RelayNode>>;
    /// Relays that did not heartbeat since `fresh_since` are `gone`, and the open sessions of
    /// gone relays end with `relay_lost`; those sessions are returned.
    async fn end_sessions_on_lost_relays(
        &self,
        fresh_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StorageResult<Vec<crate::StreamSession>>;
}

/// Clips (table `recordings`). Viewers are as for events: the camera's owner, and users or
/// devices linked to the camera since the clip was made; only the owner deletes.
#[async_trait]
pub trait RecordingStore: Send + Sync {
    /// Stores a clip about to be written, status `recording`.
    async fn create_recording(
        &self,
        new: crate::NewRecording,
        now: DateTime<Utc>,
    ) -> StorageResult<crate::Recording>;

    /// A clip still being written reports its progress (bytes uploaded so far); it keeps its
    /// row fresh, which is how crash recovery tells a live clip from an abandoned one. False
    /// when the clip is no longer `recording`.
    async fn recording_progress(
        &self,
        id: Uuid,
        size_bytes: i64,
        now: DateTime<Utc>,
    ) -> StorageResult<bool>;

    /// Where a clip's multipart upload to a bucket stands: its id and the ETags of the parts
    /// stored (JSON). Also keeps the row fresh. False when the clip is no longer being written.
    async fn recording_upload(
        &self,
        id: Uuid,
        upload_id: &str,
        parts: &str,
        now: DateTime<Utc>,
    ) -> StorageResult<bool>;

    /// `recording` → `uploading`: the clip is closed, its last bytes are being uploaded.
    async fn recording_uploading(&self, id: Uuid, now: DateTime<Utc>) -> StorageResult<bool>;

    /// Ends a clip still `recording` or `uploading`: `available` (and, for an event's first
    /// clip, the event's `video_url`, in the same transaction) or `failed`. `None` when the
    /// clip had already ended or is gone.
    async fn finish_recording(
        &self,
        id: Uuid,
        result: crate::RecordingResult,
        now: DateTime<Utc>,
    ) -> StorageResult<Option<crate::Recording>>;

    /// A clip the viewer may see (never a deleted one).
    async fn get_recording(
        &self,
        viewer: crate::EventViewer,
        id: Uuid,
    ) -> StorageResult<Option<crate::Recording>>;

    /// Clips the viewer may see, newest first.
    async fn list_recordings(
        &self,
        viewer: crate::EventViewer,
        filter: crate::RecordingFilter,
        page: PageRequest,
    ) -> StorageResult<Page<crate::Recording>>;

    /// Marks an owner's clip `deleted` (it vanishes from the API at once; the caller then
    /// deletes the object, and the orphan sweep catches one it could not), with `audit` in the
    /// same transaction. Returns the clip as it was.
    async fn delete_recording(
        &self,
        owner: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
        audit: NewAuditLog,
    ) -> StorageResult<Option<crate::Recording>>;

    /// Clips retention removes, oldest first: every finished clip (`available` or `failed`)
    /// made before `created_before`, and an owner's oldest `available` clips beyond
    /// `max_bytes_per_owner` of them (the newest are kept).
    async fn recordings_past_retention(
        &self,
        created_before: DateTime<Utc>,
        max_bytes_per_owner: Option<i64>,
        limit: u32,
    ) -> StorageResult<Vec<crate::Recording>>;

    /// Clips of `source` left `recording` or `uploading` whose row has not moved since
    /// `stale_before`: their writer is gone (crash recovery finalizes or fails them; a device
    /// upload past its URL's life is checked once more). Oldest first.
    async fn abandoned_recordings(
        &self,
        stale_before: DateTime<Utc>,
        source: crate::RecordingSource,
        limit: u32,
    ) -> StorageResult<Vec<crate::Recording>>;
}
