use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the signal service needs from the server's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalConfig {
    /// The URL clients reach, used in links (password reset, pairing), and the fallback when
    /// links follow requests (`links_from_request`).
    pub public_url: String,
    /// Set when the server has no configured public URL: links follow the scheme, host and
    /// port of the request when its host is one of these (see `types::links`).
    #[serde(skip)]
    pub links_from_request: Option<crate::types::links::KnownHosts>,
    /// Absolute lifetime of a user session.
    #[serde(with = "seconds")]
    pub session_lifetime: Duration,
    /// A session unused for this long stops working.
    #[serde(with = "seconds")]
    pub session_idle_timeout: Duration,
    /// How long a password-reset link works.
    #[serde(with = "seconds")]
    pub password_reset_lifetime: Duration,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How long a verified token is remembered in memory (0 turns the cache off). Revocations
    /// on this node take effect at once regardless; see `auth::cache`.
    #[serde(with = "seconds")]
    pub credential_cache_ttl: Duration,
    pub rate_limits: RateLimits,
    /// How often the server pings each WebSocket; two missed intervals mark the device
    /// offline.
    pub ws_heartbeat_interval_ms: u64,
    /// Frames queued for one WebSocket before the consumer counts as too slow and is closed.
    pub ws_queue_capacity: usize,
    /// argon2id cost; the defaults are OWASP's minimum and lower values are refused.
    pub argon2: Argon2Config,
    /// An unacknowledged command is sent again after this long, doubling per retry...
    pub command_retry_first_ms: u64,
    /// ...up to this long between tries, until it expires.
    pub command_retry_max_ms: u64,
    /// How often each node expires commands and looks for retries that are due.
    pub command_sweep_interval_ms: u64,
    /// A stream session whose camera has not published within this many seconds fails.
    pub stream_publish_timeout_secs: u64,
    /// A camera no open session needs is told to stop publishing after this many seconds.
    pub stream_idle_stop_secs: u64,
    /// A relay not heard from for this many seconds gets no new streams, and its open
    /// sessions end (`relay_lost`).
    pub relay_stale_secs: u64,
    /// The recorder runs in another process (on the same PostgreSQL): signal tells it about
    /// cameras, events and recordings over the bus. Without it, and with no recorder in this
    /// process, nothing is recorded.
    pub remote_recorder: bool,
    /// Filled in from the server-wide `allow_private_targets`: webhooks may then name
    /// loopback and private addresses (and plain http).
    #[serde(skip)]
    pub allow_private_targets: bool,
    /// Filled in from the VAPID key under the data directory: what browsers subscribe with.
    #[serde(skip)]
    pub vapid_public_key: Option<String>,
}

impl SignalConfig {
    pub fn ws_heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.ws_heartbeat_interval_ms.max(10))
    }

    pub fn command_retry_schedule(&self) -> securecam_storage::RetrySchedule {
        let first = Duration::from_millis(self.command_retry_first_ms.max(10));
        securecam_storage::RetrySchedule {
            first,
            max: Duration::from_millis(self.command_retry_max_ms).max(first),
        }
    }

    pub fn relay_stale(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.relay_stale_secs.max(1) as i64)
    }

    pub fn command_sweep_interval(&self) -> Duration {
        Duration::from_millis(self.command_sweep_interval_ms.max(10))
    }
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            public_url: "http://localhost:8080".to_string(),
            links_from_request: None,
            session_lifetime: Duration::from_secs(30 * 24 * 3600),
            session_idle_timeout: Duration::from_secs(7 * 24 * 3600),
            password_reset_lifetime: Duration::from_secs(3600),
            trust_forwarded_for: false,
            credential_cache_ttl: Duration::from_secs(5),
            rate_limits: RateLimits::default(),
            ws_heartbeat_interval_ms: 15_000,
            ws_queue_capacity: 256,
            argon2: Argon2Config::default(),
            command_retry_first_ms: 2_000,
            command_retry_max_ms: 30_000,
            command_sweep_interval_ms: 500,
            stream_publish_timeout_secs: 20,
            stream_idle_stop_secs: 30,
            relay_stale_secs: 15,
            remote_recorder: false,
            allow_private_targets: false,
            vapid_public_key: None,
        }
    }
}

/// Sliding-window limits: at most `max` in `window_seconds`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_seconds: u64,
}

impl Limit {
    pub const fn new(max: u32, window_seconds: u64) -> Self {
        Limit {
            max,
            window_seconds,
        }
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_seconds)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Sign-in attempts from one IP address.
    pub sign_in_per_ip: Limit,
    /// Sign-in attempts for one account from one address since its last successful sign-in
    /// (each attempt takes a slot before the password is checked). Over it, that address
    /// waits; every other address, the owner's, still signs in.
    pub sign_in_failures_per_account_and_address: Limit,
    /// Failed sign-ins of one account from anywhere after which each further attempt waits
    /// before its password is checked, 250 ms doubling up to 4 s: a guesser spread over many
    /// addresses slows to a crawl, the owner loses a moment, and nobody is refused.
    pub sign_in_slow_after_failures: Limit,
    /// Sign-ups from one IP address.
    pub sign_up_per_ip: Limit,
    /// Password-reset requests from one IP address.
    pub password_reset_per_ip: Limit,
    /// Password-reset mails to one account (over it, requests are dropped quietly).
    pub password_reset_per_account: Limit,
    /// Pairing codes started from one IP address.
    pub pairing_start_per_ip: Limit,
    /// Pairing claims by one user (guessing codes is what this stops).
    pub pairing_claim_per_user: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            sign_in_per_ip: Limit::new(30, 60),
            sign_in_failures_per_account_and_address: Limit::new(5, 15 * 60),
            sign_in_slow_after_failures: Limit::new(5, 15 * 60),
            sign_up_per_ip: Limit::new(20, 10 * 60),
            password_reset_per_ip: Limit::new(10, 10 * 60),
            password_reset_per_account: Limit::new(3, 60 * 60),
            pairing_start_per_ip: Limit::new(30, 10 * 60),
            pairing_claim_per_user: Limit::new(10, 10 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub struct Argon2Config {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Argon2Config {
    /// OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1.
    pub const OWASP_MINIMUM: Argon2Config = Argon2Config {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    pub fn meets_minimum(&self) -> bool {
        self.memory_kib >= Self::OWASP_MINIMUM.memory_kib
            && self.iterations >= Self::OWASP_MINIMUM.iterations
            && self.parallelism >= 1
    }
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self::OWASP_MINIMUM
    }
}

/// Durations are written as whole seconds in files and environment variables.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
