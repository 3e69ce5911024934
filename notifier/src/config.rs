//! The notifier's settings (`[notifier]` in the TOML file, `SECURECAM_NOTIFIER__*`).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::retry::RetryPolicy;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NotifierConfig {
    /// Jobs sent at the same time, at most.
    pub concurrency: usize,
    /// Jobs claimed per database round trip, at most.
    pub batch: u32,
    /// How often the queue is looked at when nothing wakes the notifier (PostgreSQL's
    /// trigger, or this process queueing a job, wakes it at once).
    pub poll_interval_ms: u64,
    /// How long a claimed job is a worker's: a job still `sending` after this is rescued
    /// (its worker died) and sent again.
    pub lease_secs: u64,
    /// Attempts in all before a job is dead.
    pub max_attempts: i32,
    /// Wait after the first failure, doubling per attempt...
    pub retry_first_ms: u64,
    /// ...up to this many seconds.
    pub retry_max_secs: u64,
    /// Webhook requests give up after this long.
    pub webhook_timeout_secs: u64,
    /// Push requests (FCM, APNs, Web Push) give up after this long.
    pub push_timeout_secs: u64,
    /// Filled in from the server-wide `allow_private_targets`.
    #[serde(skip)]
    pub allow_private_targets: bool,
    /// Filled in from the server's `public_url`: deep links point there.
    #[serde(skip)]
    pub public_url: String,
    pub fcm: Option<FcmConfig>,
    pub apns: Option<ApnsConfig>,
    pub webpush: WebPushConfig,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        let retry = RetryPolicy::default();
        NotifierConfig {
            concurrency: 256,
            batch: 256,
            poll_interval_ms: 1000,
            lease_secs: 120,
            max_attempts: retry.max_attempts,
            retry_first_ms: retry.first.as_millis() as u64,
            retry_max_secs: retry.max.as_secs(),
            webhook_timeout_secs: 15,
            push_timeout_secs: 30,
            allow_private_targets: false,
            public_url: "http://localhost:8080".into(),
            fcm: None,
            apns: None,
            webpush: WebPushConfig::default(),
        }
    }
}

impl NotifierConfig {
    pub fn retry_policy(&self) -> RetryPolicy {
        let first = Duration::from_millis(self.retry_first_ms.max(1));
        RetryPolicy {
            first,
            max: Duration::from_secs(self.retry_max_secs).max(first),
            max_attempts: self.max_attempts.max(1),
        }
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs.max(1))
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }
}

/// Firebase Cloud Messaging, HTTP v1 API, with a service account's OAuth2 token.
#[derive(Debug, Clone, Deserialize)]
pub struct FcmConfig {
    /// The service account's JSON key file (from the Firebase console)...
    pub service_account_file: Option<PathBuf>,
    /// ...or its contents.
    pub service_account_json: Option<SecretString>,
    /// Default `https://fcm.googleapis.com`.
    #[serde(default = "FcmConfig::default_base_url")]
    pub base_url: String,
    /// Where access tokens come from; default the service account's `token_uri`.
    pub token_url: Option<String>,
}

impl FcmConfig {
    fn default_base_url() -> String {
        "https://fcm.googleapis.com".into()
    }
}

/// Apple Push Notification service with token (`.p8` key) authentication.
#[derive(Debug, Clone, Deserialize)]
pub struct ApnsConfig {
    /// The `.p8` signing key file...
    pub key_file: Option<PathBuf>,
    /// ...or its PEM contents.
    pub key_pem: Option<SecretString>,
    /// The key's id (10 characters, from the developer account).
    pub key_id: String,
    pub team_id: String,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
    /// Default `https://api.push.apple.com`; `https://api.sandbox.push.apple.com` for
    /// development builds.
    #[serde(default = "ApnsConfig::default_base_url")]
    pub base_url: String,
}

impl ApnsConfig {
    fn default_base_url() -> String {
        "https://api.push.apple.com".into()
    }
}

/// Web Push. The VAPID key pair is made on first start and kept under the data directory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WebPushConfig {
    /// Who push services contact about this server (`mailto:` or `https:`); default the
    /// public URL when it is https, else `mailto:securecam@localhost`.
    pub subject: Option<String>,
}
