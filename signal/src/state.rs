use std::sync::Arc;

use securecam_storage::{Database, NewAuditLog};

use crate::auth::cache::CredentialCache;
use crate::auth::password::PasswordHasher;
use crate::auth::rate_limit::RateLimiter;
use crate::bus::{Bus, BusMessage, Revocation};
use crate::config::SignalConfig;
use crate::mail::Mailer;
use crate::media::MediaConfig;
use crate::playback::PlaybackKey;
use crate::ws::Hub;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<dyn Database>,
    config: SignalConfig,
    passwords: PasswordHasher,
    limits: Limiters,
    mailer: Arc<dyn Mailer>,
    credentials: CredentialCache,
    hub: Arc<Hub>,
    bus: Bus,
    media: MediaConfig,
    playback: PlaybackKey,
}

/// One limiter per rule of `config.rate_limits`.
pub struct Limiters {
    pub sign_in_per_ip: RateLimiter,
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
    ) -> anyhow::Result<Self> {
        let passwords = PasswordHasher::new(config.argon2)?;
        let r = &config.rate_limits;
        let limits = Limiters {
            sign_in_per_ip: RateLimiter::new(r.sign_in_per_ip),
            sign_in_failures_per_account: RateLimiter::new(r.sign_in_failures_per_account),
            sign_up_per_ip: RateLimiter::new(r.sign_up_per_ip),
            password_reset_per_ip: RateLimiter::new(r.password_reset_per_ip),
            password_reset_per_account: RateLimiter::new(r.password_reset_per_account),
            pairing_start_per_ip: RateLimiter::new(r.pairing_start_per_ip),
            pairing_claim_per_user: RateLimiter::new(r.pairing_claim_per_user),
        };
        let credentials = CredentialCache::new(config.credential_cache_ttl, 100_000);
        let hub_capacity = config.ws_queue_capacity;
        let bus = Bus::new(db.pubsub());
        Ok(AppState {
            inner: Arc::new(Inner {
                db,
                config,
                passwords,
                limits,
                mailer,
                credentials,
                hub: Arc::new(Hub::new(hub_capacity)),
                bus,
                playback: PlaybackKey::derive(&media.signing_key),
                media,
            }),
        })
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

    /// Tells whichever connection holds `device`, on any node, that commands wait for it.
    pub fn commands_pending(&self, device: uuid::Uuid) {
        if !self.inner.hub.nudge(device) {
            self.inner
                .bus
                .publish(BusMessage::CommandsPending { device });
        }
    }

    /// Signs and checks `playback_url` tokens.
    pub fn playback(&self) -> &PlaybackKey {
        &self.inner.playback
    }

    /// ICE servers and media tokens.
    pub fn media(&self) -> &MediaConfig {
        &self.inner.media
    }

    /// Sends to one device wherever it is connected.
    pub fn send_to_device(&self, device: uuid::Uuid, message: &crate::ws::protocol::ServerMessage) {
        let frame = message.to_json();
        if !self.inner.hub.send_frame(device, frame.clone()) {
            self.inner
                .bus
                .publish(BusMessage::ToDevice { device, frame });
        }
    }

    /// This node's end of the bus to the other nodes.
    pub fn bus(&self) -> &Bus {
        &self.inner.bus
    }

    /// A credential stopped working: forgotten here at once and on every other node as
    /// soon as the bus brings the news.
    pub fn revoke(&self, revocation: Revocation) {
        self.forget_locally(revocation);
        self.inner.bus.publish(BusMessage::Revoked(revocation));
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
        self.revoke(Revocation::Device { id: device });
        self.inner.hub.close_device(
            device,
            crate::ws::hub::close::DEVICE_REMOVED,
            "device deleted",
        );
        self.inner.bus.publish(BusMessage::DeviceRemoved { device });
    }

    pub fn credentials(&self) -> &CredentialCache {
        &self.inner.credentials
    }

    pub fn mailer(&self) -> Arc<dyn Mailer> {
        self.inner.mailer.clone()
    }

    /// Writes an audit row. A failure to audit fails the request: a sensitive action that
    /// cannot be recorded must not look as if it went through unnoticed.
    pub async fn audit(&self, entry: NewAuditLog) -> Result<(), crate::error::ApiError> {
        self.db().insert_audit_log(entry).await?;
        Ok(())
    }
}
