use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::device::{Device, Platform};

crate::text_enum! {
    /// `pending` until an owner claims the code, `claimed` until the camera has fetched its
    /// token, then `delivered`.
    PairingStatus { Pending => "pending", Claimed => "claimed", Delivered => "delivered" }
}

/// A pairing code as stored (table `pairing_codes`); code and poll token only as hashes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PairingCode {
    pub id: Uuid,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub platform: Platform,
    #[sqlx(try_from = "String")]
    pub status: PairingStatus,
    pub claimed_by_user_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct NewPairingCode {
    pub code_hash: String,
    pub poll_token_hash: String,
    pub name: String,
    pub platform: Platform,
    pub expires_at: DateTime<Utc>,
}

crate::redacted_debug!(NewPairingCode { name, platform, expires_at; secret: code_hash, poll_token_hash });

/// What claiming a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// A camera device now belongs to the claimant (linked to the viewer, if one was named).
    Claimed(Device),
    /// No such code, or the viewer named is not the claimant's device.
    NotFound,
    /// The code has expired or was already used.
    Gone,
}

/// What polling with a poll token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    Pending,
    /// Claimed: the device, whose first token (the hash given to the poll) now exists. Happens
    /// once; later polls are `Gone`.
    Delivered(Device),
    /// Unknown poll token, expired code, or the token was already delivered.
    Gone,
}
