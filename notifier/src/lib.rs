//! SecureCam's notifier: durable push delivery (FCM HTTP v1, APNs, Web Push) and signed
//! webhooks, with retries.
//!
//! Jobs are rows of `notification_deliveries`, queued in the same transaction as what they
//! announce (an event, a command for an offline device, a clip). The [`dispatcher`] claims
//! due jobs with a lease, sends each through its [`providers`] with bounded concurrency and
//! writes back how it went; [`retry`] decides when a failed job is tried again and when it
//! is dead. Provider answers are classified by pure functions ([`outcome`]), so every
//! documented response has a test without a socket.

pub mod config;
pub mod dispatcher;
pub mod guard;
pub mod message;
pub mod outcome;
pub mod providers;
pub mod retry;
pub mod vapid;

pub use config::NotifierConfig;
pub use dispatcher::Notifier;
pub use vapid::VapidKey;

/// The JWT library the providers sign with, for tools and tests that stand in for them.
pub use web_push_native::jwt_simple;
