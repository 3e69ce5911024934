//! Credentials: opaque bearer tokens, argon2id passwords, sign-in rate limits, and the
//! extractors that tell a handler who is calling.

pub mod cache;
mod caller;
pub mod password;
pub mod rate_limit;
pub mod rights;
pub mod tokens;

pub use crate::types::identity::{Caller, UserCaller};
pub use caller::{authenticate, bearer_token, camera_not_allowed, check_rights};
