use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// `queued → dispatched → acknowledged | failed`, or `expired` / `cancelled` first.
    CommandStatus {
        Queued => "queued",
        Dispatched => "dispatched",
        Acknowledged => "acknowledged",
        Failed => "failed",
        Expired => "expired",
        Cancelled => "cancelled",
    }
}

impl CommandStatus {
    /// Still waiting for the device: delivered (again) until acknowledged or expired.
    pub fn is_pending(self) -> bool {
        matches!(self, CommandStatus::Queued | CommandStatus::Dispatched)
    }
}

/// An order to a device (table `commands`), kept until the device answers or it expires.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Command {
    pub id: Uuid,
    /// The target's owner.
    pub owner_user_id: Uuid,
    /// The device that sent it, when a device did.
    pub source_device_id: Option<Uuid>,
    pub target_device_id: Uuid,
    pub command_type: String,
    #[sqlx(json)]
    #[schema(value_type = Object)]
    pub payload: Value,
    #[sqlx(try_from = "String")]
    pub status: CommandStatus,
    /// How many times it was sent again after its first dispatch.
    pub retry_count: i32,
    pub last_dispatched_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The device's reason for `failed`.
    pub error: Option<String>,
    /// What the device answered with its acknowledgement, if anything.
    #[sqlx(json(nullable))]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The user who sent it (directly or through one of their devices); decides who may see
    /// and cancel it besides the owner. Not shown: it may be another person's id.
    #[serde(skip)]
    pub source_user_id: Option<Uuid>,
}

/// A command to create. Who may send it is checked by the database in the same transaction.
#[derive(Debug, Clone)]
pub struct NewCommand {
    /// The sending user (or the owner of the sending device).
    pub sender_user_id: Uuid,
    /// The sending device: for a device token the caller itself, for a user token the
    /// optional `source_device_id` (which must be the user's).
    pub sender_device_id: Option<Uuid>,
    pub target_device_id: Uuid,
    pub command_type: String,
    pub payload: Value,
    pub expires_at: DateTime<Utc>,
    /// A retried request with the same key returns the first command.
    pub idempotency_key: Option<String>,
    /// The target is connected to the caller's node: it is online and needs no wake-up push
    /// (saves a query per command on the hot path).
    pub target_connected: bool,
}

/// What creating a command did.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandOutcome {
    /// Stored as `queued`; `wake_up_queued` when the target was offline with a push token
    /// and a data-only wake-up push was queued for it.
    Created {
        command: Command,
        wake_up_queued: bool,
    },
    /// The idempotency key was used before by the same sender for the same target.
    Replayed(Command),
    /// The target (or the source device) is unknown, another owner's without a link, or
    /// the link was revoked.
    NotFound,
}

/// A device's answer to a command.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandAck {
    /// `Acknowledged` or `Failed`.
    pub status: CommandStatus,
    pub error: Option<String>,
    pub result: Option<Value>,
}

/// What an acknowledgement did.
#[derive(Debug, Clone, PartialEq)]
pub enum AckOutcome {
    Recorded(Command),
    /// The command had already finished (a repeated ack, or it expired or was cancelled).
    AlreadyFinished(Command),
    /// No such command addressed to this device.
    NotFound,
}

/// What a cancellation did.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelOutcome {
    Cancelled(Command),
    AlreadyFinished(Command),
    NotFound,
}

/// Who is looking at commands: a user (user token) sees those they own or sent; a device
/// (device token) sees those addressed to it or sent by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandViewer {
    User(Uuid),
    Device { id: Uuid, owner: Uuid },
}

impl CommandViewer {
    pub fn user_id(self) -> Uuid {
        match self {
            CommandViewer::User(id) => id,
            CommandViewer::Device { owner, .. } => owner,
        }
    }

    /// `(user, device)` for SQL: exactly one is set.
    pub fn split(self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            CommandViewer::User(id) => (Some(id), None),
            CommandViewer::Device { id, .. } => (None, Some(id)),
        }
    }
}

/// When an unacknowledged dispatch is sent again: after `first`, doubling per retry up to
/// `max`. Passed to the database as one timestamp per retry count so the SQL stays portable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    pub first: std::time::Duration,
    pub max: std::time::Duration,
}

impl RetrySchedule {
    /// How many distinct delays the schedule has before it stays at `max`.
    pub const STEPS: usize = 6;

    /// The delay after the dispatch with this retry count (0 = first dispatch).
    pub fn delay(self, retry_count: usize) -> std::time::Duration {
        let factor = 1u32 << retry_count.min(Self::STEPS - 1);
        (self.first * factor).min(self.max)
    }

    /// `now + delay(n)` for n in 0..STEPS.
    pub fn due_times(self, now: DateTime<Utc>) -> [DateTime<Utc>; Self::STEPS] {
        std::array::from_fn(|n| {
            now + chrono::Duration::from_std(self.delay(n)).unwrap_or(chrono::Duration::MAX)
        })
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            first: std::time::Duration::from_secs(2),
            max: std::time::Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn retries_back_off_to_the_cap() {
        let schedule = RetrySchedule::default();
        let delays: Vec<u64> = (0..8).map(|n| schedule.delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 30, 30, 30, 30]);
        let tight = RetrySchedule {
            first: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(tight.delay(3), Duration::from_millis(800));
        assert_eq!(tight.delay(4), Duration::from_secs(1));
    }
}
