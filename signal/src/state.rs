//! What signal's parts share. [`Core`] is what the services need (the database, settings,
//! media and the outbox) and is all a process without signal's HTTP side builds (a recorder
//! alone in its process); [`AppState`] adds what only the API uses (password hashing, rate
//! limits, the credential cache, mail, playback signing) and dereferences to its `Core`.

use std::ops::Deref;
use std::sync::Arc;

use securecam_storage::{Database, EventViewer, NewAuditLog, Recording, StorageError};

use crate::auth::cache::CredentialCache;
use crate::auth::password::PasswordHasher;
use crate::auth::rate_limit::{RateLimiter, SIGN_IN_DELAY_STEPS};
use crate::bus::Bus;
use crate::config::{Limit, SignalConfig};
use crate::mail::Mailer;
use crate::media::MediaConfig;
use crate::outbox::Outbox;
use crate::playback::PlaybackKey;
use crate::types::bus::Revocation;
use crate::types::views::RecordingView;
use crate::ws::Hub;

/// The services' state; cheap to clone.
#[derive(Clone)]
pub struct Core {
    inner: Arc<CoreInner>,
}

struct CoreInner {
    db: Arc<dyn Database>,
    config: SignalConfig,
    media: MediaConfig,
    outbox: Outbox,
}

impl Core {
    /// `hub`: the devices connected to this process, where signal serves them.
    pub fn new(
        db: Arc<dyn Database>,
        config: SignalConfig,
        media: MediaConfig,
        bus: Arc<Bus>,
        hub: Option<Arc<Hub>>,
    ) -> Self {
        let outbox = Outbox::new(
            hub,
            bus,
            media.relay.clone(),
            media.recorder.clone(),
            config.remote_recorder,
        );
        Core {
            inner: Arc::new(CoreInner {
                db,
                config,
                media,
                outbox,
            }),
        }
    }

    pub fn db(&self) -> &dyn Database {
        self.inner.db.as_ref()
    }

    pub fn db_arc(&self) -> Arc<dyn Database> {
        self.inner.db.clone()
    }

    pub fn config(&self) -> &SignalConfig {
        &self.inner.config
    }

    /// ICE servers, media tokens, and the relay, recorder and clip store of this process.
    pub fn media(&self) -> &MediaConfig {
        &self.inner.media
    }

    /// Delivery to devices, relays and the recorder.
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    core: Core,
    inner: Arc<Inner>,
}

struct Inner {
    passwords: PasswordHasher,
    limits: Limiters,
    mailer: Arc<dyn Mailer>,
    credentials: CredentialCache,
    hub: Arc<Hub>,
    playback: PlaybackKey,
}

/// One limiter per rule of `config.rate_limits`.
pub struct Limiters {
    pub sign_in_per_ip: RateLimiter,
    pub sign_in_failures_per_account_and_address: RateLimiter,
    /// Counts an account's failures from anywhere (never refuses; see `sign_in_delay`).
    pub sign_in_failures_per_account: RateLimiter,
    pub sign_up_per_ip: RateLimiter,
    pub password_reset_per_ip: RateLimiter,
    pub password_reset_per_account: RateLimiter,
    pub pairing_start_per_ip: RateLimiter,
    pub pairing_claim_per_user: RateLimiter,
}

impl AppState {
    pub fn new(
        db: Arc<dyn Database>,
        config: SignalConfig,
        mailer: Arc<dyn Mailer>,
        media: MediaConfig,
        bus: Arc<Bus>,
    ) -> anyhow::Result<Self> {
        let passwords = PasswordHasher::new(config.argon2)?;
        let r = &config.rate_limits;
        let limits = Limiters {
            sign_in_per_ip: RateLimiter::new(r.sign_in_per_ip),
            sign_in_failures_per_account_and_address: RateLimiter::new(
                r.sign_in_failures_per_account_and_address,
            ),
            // Enough remembered failures to reach the longest delay.
            sign_in_failures_per_account: RateLimiter::new(Limit::new(
                r.sign_in_slow_after_failures.max + SIGN_IN_DELAY_STEPS,
                r.sign_in_slow_after_failures.window_seconds,
            )),
            sign_up_per_ip: RateLimiter::new(r.sign_up_per_ip),
            password_reset_per_ip: RateLimiter::new(r.password_reset_per_ip),
            password_reset_per_account: RateLimiter::new(r.password_reset_per_account),
            pairing_start_per_ip: RateLimiter::new(r.pairing_start_per_ip),
            pairing_claim_per_user: RateLimiter::new(r.pairing_claim_per_user),
        };
        let credentials = CredentialCache::new(config.credential_cache_ttl, 100_000);
        let hub = Arc::new(Hub::new(config.ws_queue_capacity));
        let playback = PlaybackKey::derive(&media.signing_key);
        let core = Core::new(db, config, media, bus, Some(hub.clone()));
        Ok(AppState {
            core,
            inner: Arc::new(Inner {
                passwords,
                limits,
                mailer,
                credentials,
                hub,
                playback,
            }),
        })
    }

    /// The services' part of the state.
    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn passwords(&self) -> &PasswordHasher {
        &self.inner.passwords
    }

    pub fn limits(&self) -> &Limiters {
        &self.inner.limits
    }

    /// The devices connected to this process.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    /// Signs and checks `playback_url` tokens.
    pub fn playback(&self) -> &PlaybackKey {
        &self.inner.playback
    }

    /// `recording` with a playback URL for `viewer` (the owner when `None`) under `base`
    /// (the request's link base).
    pub fn recording_view(
        &self,
        recording: Recording,
        viewer: Option<EventViewer>,
        base: &str,
    ) -> RecordingView {
        RecordingView::signed(
            recording,
            self.playback(),
            base,
            viewer,
            securecam_storage::now(),
        )
    }

    /// A credential stopped working: forgotten here at once and on every other node as
    /// soon as the bus brings the news.
    pub fn revoke(&self, revocation: Revocation) {
        self.forget_locally(revocation);
        self.outbox().revoked(revocation);
    }

    pub fn forget_locally(&self, revocation: Revocation) {
        let cache = &self.inner.credentials;
        match revocation {
            Revocation::Session { id } => cache.forget_session(id),
            Revocation::UserSessions { user } => cache.forget_user_sessions(user),
            Revocation::Device { id } => cache.forget_device(id),
        }
    }

    /// A device was deleted: its token is forgotten and its connection, wherever it is,
    /// closed.
    pub fn device_removed(&self, device: uuid::Uuid) {
        self.device_signed_out(device);
    }

    /// A device's token ended (the device deleted, or signed out by a password reset): the
    /// token is forgotten and the device's connection, wherever it is, closed.
    pub fn device_signed_out(&self, device: uuid::Uuid) {
        self.revoke(Revocation::Device { id: device });
        self.outbox().device_removed(device);
    }

    pub fn credentials(&self) -> &CredentialCache {
        &self.inner.credentials
    }

    pub fn mailer(&self) -> Arc<dyn Mailer> {
        self.inner.mailer.clone()
    }

    /// Writes an audit row. A failure to audit fails the request: a sensitive action that
    /// cannot be recorded must not look as if it went through unnoticed.
    pub async fn audit(&self, entry: NewAuditLog) -> Result<(), StorageError> {
        self.db().insert_audit_log(entry).await
    }
}

impl Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}
