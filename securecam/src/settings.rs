//! Typed settings: built-in defaults, then an optional TOML file (`--config`), then
//! `SECURECAM_*` environment variables (nested keys with `__`, e.g. `SECURECAM_SMTP__HOST`).
//! Secrets are `SecretString`s: Debug output and logs show `[REDACTED]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use securecam_signal::mail::SmtpConfig;
use securecam_signal::SignalConfig;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the HTTP API listens.
    pub http_addr: SocketAddr,
    /// Where HTTPS listens (everything the HTTP listener serves). Unset: `0.0.0.0:8443`, and
    /// when that port is taken the server starts without HTTPS (with a warning); an address
    /// set here that cannot be bound is an error.
    pub https_addr: Option<SocketAddr>,
    /// The HTTPS certificate: a local certificate authority (default), files, ACME, or off.
    pub tls: crate::tls::TlsSettings,
    /// Timeouts and connection caps of both listeners.
    pub http: crate::serve::ConnectionLimits,
    /// Where the SQLite database, clips and keys live by default.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default `sqlite://<data dir>/securecam.db`.
    pub database_url: Option<SecretString>,
    /// PostgreSQL pool size; default two per core of this machine.
    pub database_max_connections: Option<u32>,
    /// `file://…` or `s3://bucket/prefix`; default `file://<data dir>/objects`.
    pub storage_url: Option<String>,
    /// The URL clients reach, used in links and endpoints. Unset: links follow the scheme,
    /// host and port each request came in on (when the host is one of this server's names),
    /// else `http://localhost:<port>`.
    pub public_url: Option<String>,
    /// The one UDP port of the media relay.
    pub relay_udp_port: u16,
    /// Lets webhooks and Web Push reach loopback and private addresses (tests, LAN set-ups).
    pub allow_private_targets: bool,
    /// Serve the web app from this directory instead of the copy built into the binary
    /// (working on `web/` without rebuilding).
    pub web_dir: Option<PathBuf>,
    /// Apply pending migrations at start-up (the embedded default); production may run
    /// `securecam migrate` as a separate step instead.
    pub auto_migrate: bool,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    pub smtp: Option<SmtpConfig>,
    pub turn: TurnConfig,
    pub relay: RelaySettings,
    pub recorder: RecorderSettings,
    /// Credentials and endpoint for an `s3://` `storage_url`.
    pub storage: StorageSettings,
    pub signal: SignalConfig,
    /// Push delivery: FCM, APNs, Web Push, webhooks, retries.
    pub notifier: securecam_notifier::NotifierConfig,
}

/// The recorder: event clips and recordings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RecorderSettings {
    /// Seconds of stream before an event that its clip shows (at least; at most 2 s more).
    pub preroll_secs: u64,
    /// Seconds a clip goes on after its event ended.
    pub post_roll_secs: u64,
    /// The longest event clip, in seconds.
    pub max_clip_secs: u64,
    /// The longest recording started by hand, in seconds.
    pub max_recording_secs: u64,
    /// Clips older than this many days are deleted.
    pub retention_days: u64,
    /// An owner's clips beyond this many bytes are deleted, oldest first; unset: no quota.
    pub max_bytes_per_owner: Option<u64>,
    /// Seconds between retention sweeps.
    pub retention_interval_secs: u64,
}

impl Default for RecorderSettings {
    fn default() -> Self {
        RecorderSettings {
            preroll_secs: 5,
            post_roll_secs: 10,
            max_clip_secs: 300,
            max_recording_secs: 3600,
            retention_days: 30,
            max_bytes_per_owner: None,
            retention_interval_secs: 600,
        }
    }
}

impl RecorderSettings {
    pub fn config(&self) -> securecam_recorder::service::RecorderConfig {
        use std::time::Duration;
        let mut config = securecam_recorder::service::RecorderConfig::default();
        let camera = &mut config.camera;
        camera.preroll.length = Duration::from_secs(self.preroll_secs);
        camera.event_clip.post_roll = Duration::from_secs(self.post_roll_secs);
        camera.event_clip.max_length = Duration::from_secs(self.max_clip_secs.max(1));
        camera.on_demand.max_length = Duration::from_secs(self.max_recording_secs.max(1));
        config.retention.max_age = Duration::from_secs(self.retention_days.max(1) * 24 * 3600);
        config.retention.max_bytes_per_owner = self.max_bytes_per_owner;
        config.retention_interval = Duration::from_secs(self.retention_interval_secs.max(1));
        config
    }
}

/// For `storage_url = "s3://bucket/prefix"`: each falls back to its `AWS_*` variable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    /// e.g. `http://127.0.0.1:9000` for MinIO; AWS when unset (`AWS_ENDPOINT_URL`).
    pub s3_endpoint: Option<String>,
    /// `AWS_REGION`; default `us-east-1`.
    pub s3_region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub s3_access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub s3_secret_access_key: Option<SecretString>,
}

impl StorageSettings {
    pub fn s3_options(&self) -> securecam_recorder::store::S3Options {
        securecam_recorder::store::S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self
                .s3_secret_access_key
                .as_ref()
                .map(|s| s.expose_secret().to_string()),
        }
        .or_env()
    }
}

/// The media relay (the UDP port itself is `relay_udp_port`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RelaySettings {
    /// The public address clients reach the UDP port at, for a host behind NAT 1:1; default
    /// this host's outbound address. Loopback is always offered too.
    pub public_ip: Option<std::net::IpAddr>,
    /// Peers (publishers and viewers) at most; more are answered 503.
    pub max_legs: usize,
    /// Seconds a peer has to connect after its offer was answered.
    pub connect_timeout_secs: u64,
    /// Seconds viewers wait for a camera that dropped off to come back.
    pub publisher_grace_secs: u64,
    /// Milliseconds of video each viewer leg keeps for answering NACKs: memory per viewer
    /// against recovery on long round trips (0 = repair by keyframes only).
    pub nack_history_ms: u64,
    /// Where clients reach this relay's HTTP side (WHIP/WHEP), when the relay runs in its own
    /// process; default `public_url`.
    pub public_url: Option<String>,
    /// The name it registers under; default the host name.
    pub name: Option<String>,
    /// Seconds between heartbeats (signal gives up on a relay after `signal.relay_stale_secs`).
    pub heartbeat_secs: u64,
}

impl Default for RelaySettings {
    fn default() -> Self {
        let core = securecam_media_relay::core::CoreConfig::default();
        RelaySettings {
            public_ip: None,
            max_legs: core.max_legs,
            connect_timeout_secs: core.connect_timeout.as_secs(),
            publisher_grace_secs: core.publisher_grace.as_secs(),
            nack_history_ms: core.nack_history.as_millis() as u64,
            public_url: None,
            name: None,
            heartbeat_secs: 5,
        }
    }
}

impl RelaySettings {
    pub fn core(&self) -> securecam_media_relay::core::CoreConfig {
        securecam_media_relay::core::CoreConfig {
            max_legs: self.max_legs,
            connect_timeout: std::time::Duration::from_secs(self.connect_timeout_secs),
            publisher_grace: std::time::Duration::from_secs(self.publisher_grace_secs),
            nack_history: std::time::Duration::from_millis(self.nack_history_ms),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The TURN servers clients are offered (coturn with the TURN REST shared secret).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TurnConfig {
    /// Comma-separated `turn:` / `stun:` URLs.
    pub urls: Option<String>,
    pub secret: Option<SecretString>,
}

impl TurnConfig {
    pub fn urls(&self) -> Vec<String> {
        self.urls
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            https_addr: None,
            tls: crate::tls::TlsSettings::default(),
            http: crate::serve::ConnectionLimits::default(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: None,
            storage_url: None,
            public_url: None,
            relay_udp_port: 8189,
            allow_private_targets: false,
            web_dir: None,
            auto_migrate: true,
            log_format: LogFormat::Text,
            smtp: None,
            turn: TurnConfig::default(),
            relay: RelaySettings::default(),
            recorder: RecorderSettings::default(),
            storage: StorageSettings::default(),
            signal: SignalConfig::default(),
            notifier: securecam_notifier::NotifierConfig::default(),
        }
    }
}

impl Settings {
    /// Defaults → `config_file` (if given; it must exist) → `SECURECAM_*` environment.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Settings> {
        Self::from_figment(Self::figment(config_file)?)
    }

    pub fn figment(config_file: Option<&Path>) -> anyhow::Result<Figment> {
        let mut figment = Figment::new();
        if let Some(path) = config_file {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        Ok(figment.merge(Env::prefixed("SECURECAM_").split("__")))
    }

    pub fn from_figment(figment: Figment) -> anyhow::Result<Settings> {
        let settings: Settings = figment.extract()?;
        if !settings.signal.argon2.meets_minimum() {
            anyhow::bail!("signal.argon2 parameters are below OWASP's minimum (m=19456, t=2, p=1)");
        }
        Ok(settings)
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose_secret().to_string(),
            None => format!("sqlite://{}", self.data_dir.join("securecam.db").display()),
        }
    }

    pub fn storage_url(&self) -> String {
        self.storage_url
            .clone()
            .unwrap_or_else(|| format!("file://{}", self.data_dir.join("objects").display()))
    }

    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://localhost:{}", self.http_addr.port()),
        }
    }

    /// The signal service's configuration, with the server-wide values filled in.
    pub fn signal_config(&self) -> SignalConfig {
        SignalConfig {
            public_url: self.public_url(),
            allow_private_targets: self.allow_private_targets,
            ..self.signal.clone()
        }
    }

    /// The notifier's configuration, with the server-wide values filled in.
    pub fn notifier_config(&self) -> securecam_notifier::NotifierConfig {
        securecam_notifier::NotifierConfig {
            public_url: self.public_url(),
            allow_private_targets: self.allow_private_targets,
            ..self.notifier.clone()
        }
    }
}

#[cfg(test)]
// figment's Jail closures must return figment's (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_file_then_environment() {
        figment::Jail::expect_with(|jail| {
            let defaults = Settings::load(None).unwrap();
            assert_eq!(defaults.http_addr.port(), 8080);
            assert_eq!(defaults.database_url(), "sqlite://./data/securecam.db");
            assert_eq!(defaults.storage_url(), "file://./data/objects");
            assert_eq!(defaults.public_url(), "http://localhost:8080");
            assert!(!defaults.allow_private_targets);

            jail.create_file(
                "securecam.toml",
                r#"
                    http_addr = "127.0.0.1:9000"
                    data_dir = "/var/lib/securecam"
                    public_url = "https://cam.example/"
                    [signal]
                    session_idle_timeout = 600
                    [smtp]
                    host = "mail.example"
                    from = "SecureCam <cam@example.org>"
                    password = "file-secret"
                "#,
            )?;
            jail.set_env("SECURECAM_HTTP_ADDR", "127.0.0.1:9100");
            jail.set_env("SECURECAM_DATABASE_URL", "postgres://app:pw@db/securecam");
            jail.set_env("SECURECAM_ALLOW_PRIVATE_TARGETS", "true");
            jail.set_env("SECURECAM_SIGNAL__TRUST_FORWARDED_FOR", "true");
            let s = Settings::load(Some(Path::new("securecam.toml"))).unwrap();
            assert_eq!(s.http_addr.port(), 9100, "environment beats file");
            assert_eq!(
                s.data_dir,
                PathBuf::from("/var/lib/securecam"),
                "file beats defaults"
            );
            assert_eq!(s.storage_url(), "file:///var/lib/securecam/objects");
            assert_eq!(s.public_url(), "https://cam.example");
            assert_eq!(s.signal_config().public_url, "https://cam.example");
            assert_eq!(s.signal.session_idle_timeout.as_secs(), 600);
            assert!(s.signal.trust_forwarded_for);
            assert!(s.allow_private_targets);
            assert_eq!(s.database_url(), "postgres://app:pw@db/securecam");

            // Secrets never show in Debug output.
            let debug = format!("{s:?}");
            assert!(!debug.contains("app:pw"), "{debug}");
            assert!(!debug.contains("file-secret"), "{debug}");
            assert!(debug.contains("REDACTED"));
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_or_weak_argon2_is_an_error() {
        figment::Jail::expect_with(|jail| {
            assert!(Settings::load(Some(Path::new("nope.toml"))).is_err());
            jail.set_env("SECURECAM_SIGNAL__ARGON2__MEMORY_KIB", "1024");
            assert!(Settings::load(None).is_err());
            Ok(())
        });
    }
}
