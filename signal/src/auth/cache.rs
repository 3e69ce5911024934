//! Recently verified credentials, so most authenticated requests cost no database round trip
//! for their token (the benchmark showed that round trip to be half of a request's cost).
//!
//! An entry lives `ttl` at most. Everything that ends a credential on this node (sign-out,
//! session revoke, password reset, device update or delete) removes its entries at once, so
//! a revoked token stops working immediately on this node, and on the other nodes as soon as
//! the bus (PostgreSQL NOTIFY, see `crate::bus`) brings the revocation; should that message be
//! lost (a listener reconnecting), `ttl` bounds how long another node may accept it. Expiry and
//! idle timeout are checked on every request against the cached session, never cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::types::identity::Caller;

pub struct CredentialCache {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, Entry>>,
    /// Bumped by every `forget_*`. A lookup that started before a revocation must not cache
    /// what it read: `insert` is refused when the generation moved since the lookup began.
    generation: AtomicU64,
}

struct Entry {
    caller: Caller,
    cached_at: Instant,
}

impl CredentialCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        CredentialCache {
            ttl,
            max_entries,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Read before a database lookup whose result may be cached; pass to `insert`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.max_entries > 0
    }

    /// The caller cached for this token hash, if still fresh.
    pub fn get(&self, token_hash: &str, now: Instant) -> Option<Caller> {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.lock().expect("credential cache lock");
        let entry = entries.get(token_hash)?;
        (now.saturating_duration_since(entry.cached_at) < self.ttl).then(|| entry.caller.clone())
    }

    pub fn insert(&self, token_hash: &str, caller: Caller, now: Instant, generation: u64) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries.lock().expect("credential cache lock");
        // Checked under the lock that `forget` also takes, so no revocation slips in between.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= self.max_entries {
            // Bounded memory: drop what has gone stale; if everything is fresh, start over.
            entries.retain(|_, e| now.saturating_duration_since(e.cached_at) < self.ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(
            token_hash.to_string(),
            Entry {
                caller,
                cached_at: now,
            },
        );
    }

    /// Forgets one session (sign-out, revoke).
    pub fn forget_session(&self, session_id: Uuid) {
        self.forget(
            |caller| matches!(caller, Caller::User { session } if session.id == session_id),
        );
    }

    /// Forgets every session of a user (password reset).
    pub fn forget_user_sessions(&self, user_id: Uuid) {
        self.forget(
            |caller| matches!(caller, Caller::User { session } if session.user_id == user_id),
        );
    }

    /// Forgets a device's tokens (device updated or deleted).
    pub fn forget_device(&self, device_id: Uuid) {
        self.forget(|caller| matches!(caller, Caller::Device { device } if device.id == device_id));
    }

    fn forget(&self, matches: impl Fn(&Caller) -> bool) {
        let mut entries = self.entries.lock().expect("credential cache lock");
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.retain(|_, entry| !matches(&entry.caller));
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use securecam_storage::Session;

    use super::*;

    fn session(user_id: Uuid) -> Caller {
        let now = Utc::now();
        Caller::User {
            session: Session {
                id: Uuid::now_v7(),
                user_id,
                expires_at: now,
                ip_address: None,
                user_agent: None,
                created_at: now,
                updated_at: now,
                last_active_at: now,
            },
        }
    }

    #[test]
    fn entries_expire_and_are_forgotten_on_revocation() {
        let cache = CredentialCache::new(Duration::from_secs(5), 100);
        let t0 = Instant::now();
        let user = Uuid::now_v7();
        let a = session(user);
        let Caller::User { session: sa } = &a else {
            unreachable!()
        };
        let g = cache.generation();
        cache.insert("a", a.clone(), t0, g);
        cache.insert("b", session(user), t0, g);
        cache.insert("c", session(Uuid::now_v7()), t0, g);
        assert!(cache.get("a", t0 + Duration::from_secs(4)).is_some());
        assert!(
            cache.get("a", t0 + Duration::from_secs(5)).is_none(),
            "stale after ttl"
        );

        cache.forget_session(sa.id);
        assert!(cache.get("a", t0).is_none());
        assert!(cache.get("b", t0).is_some());
        cache.forget_user_sessions(user);
        assert!(cache.get("b", t0).is_none());
        assert!(cache.get("c", t0).is_some(), "other users are untouched");

        // A lookup that began before a revocation does not cache what it read.
        let before = cache.generation();
        cache.forget_session(Uuid::now_v7());
        cache.insert("late", session(user), t0, before);
        assert!(cache.get("late", t0).is_none());
    }

    #[test]
    fn bounded_and_can_be_disabled() {
        let cache = CredentialCache::new(Duration::from_secs(5), 2);
        let t0 = Instant::now();
        for key in ["a", "b", "c"] {
            cache.insert(key, session(Uuid::now_v7()), t0, cache.generation());
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
        assert!(cache.get("c", t0).is_some(), "the newest entry is kept");

        let off = CredentialCache::new(Duration::ZERO, 100);
        off.insert("a", session(Uuid::now_v7()), t0, off.generation());
        assert!(off.get("a", t0).is_none());
    }
}
