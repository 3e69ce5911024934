use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A signed-in user session (table `session`). The bearer token itself is never stored;
/// `token_hash` is its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_active_at: DateTime<Utc>,
}

/// A session as listed to its owner.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_active_at: DateTime<Utc>,
    /// True for the session whose token made this request.
    pub current: bool,
}

impl Session {
    pub fn info(&self, current_session: Uuid) -> SessionInfo {
        SessionInfo {
            id: self.id,
            expires_at: self.expires_at,
            ip_address: self.ip_address.clone(),
            user_agent: self.user_agent.clone(),
            created_at: self.created_at,
            last_active_at: self.last_active_at,
            current: self.id == current_session,
        }
    }
}

#[derive(Clone)]
pub struct NewSession {
    pub user_id: Uuid,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// A one-time secret (table `verification`), e.g. a password-reset token, stored hashed.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Verification {
    pub id: Uuid,
    pub identifier: String,
    pub value: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

crate::redacted_debug!(NewSession { user_id, expires_at, ip_address, user_agent; secret: token_hash });
crate::redacted_debug!(Verification { id, identifier, expires_at, created_at; secret: value });
