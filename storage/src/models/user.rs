use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An account holder, as the API shows it: never a hash, never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user with the password hash sign-in checks against. Not serialisable on purpose.
#[derive(Clone, sqlx::FromRow)]
pub struct UserCredentials {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: Option<String>,
}

#[derive(Clone)]
pub struct NewUser {
    /// Lower-cased by the caller; the unique index makes a second sign-up a conflict.
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

crate::redacted_debug!(UserCredentials { user; secret: password_hash });
crate::redacted_debug!(NewUser { email, name; secret: password_hash });
