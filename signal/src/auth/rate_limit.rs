//! Sliding-window rate limits, kept in memory per process.
//!
//! The limiter is a plain state machine that takes `now` as a parameter, so tests drive time
//! by hand. Each key keeps the instants of its recent hits, at most `max` of them, so memory
//! per key is bounded; keys whose window has passed are swept out as the map grows.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Limit;

pub struct RateLimiter {
    limit: Limit,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(limit: Limit) -> Self {
        RateLimiter {
            limit,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when `key` is at its limit: how long until one more is allowed.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut hits = self.hits.lock().expect("rate limiter lock");
        let Some(window) = hits.get_mut(key) else {
            return Ok(());
        };
        self.expire(window, now);
        if window.len() >= self.limit.max as usize {
            let oldest = *window.front().expect("non-empty at limit");
            return Err((oldest + self.limit.window()).saturating_duration_since(now));
        }
        Ok(())
    }

    /// Counts one hit for `key`.
    pub fn record(&self, key: &str, now: Instant) {
        let mut hits = self.hits.lock().expect("rate limiter lock");
        if hits.len() > 10_000 {
            let window = self.limit.window();
            hits.retain(|_, w| {
                w.back()
                    .is_some_and(|&last| now.saturating_duration_since(last) < window)
            });
        }
        let window = hits.entry(key.to_string()).or_default();
        self.expire(window, now);
        if window.len() >= self.limit.max as usize {
            window.pop_front();
        }
        window.push_back(now);
    }

    /// Counts one attempt if the key is under its limit, atomically: of many concurrent
    /// attempts, only as many as the limit allows get through.
    pub fn hit(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut hits = self.hits.lock().expect("rate limiter lock");
        self.sweep_if_large(&mut hits, now);
        let window = hits.entry(key.to_string()).or_default();
        self.expire(window, now);
        if window.len() >= self.limit.max as usize {
            let oldest = *window.front().expect("non-empty at limit");
            return Err((oldest + self.limit.window()).saturating_duration_since(now));
        }
        window.push_back(now);
        Ok(())
    }

    fn sweep_if_large(&self, hits: &mut HashMap<String, VecDeque<Instant>>, now: Instant) {
        if hits.len() > 10_000 {
            let window = self.limit.window();
            hits.retain(|_, w| {
                w.back()
                    .is_some_and(|&last| now.saturating_duration_since(last) < window)
            });
        }
    }

    /// How many hits `key` has in its window now.
    pub fn count(&self, key: &str, now: Instant) -> usize {
        let mut hits = self.hits.lock().expect("rate limiter lock");
        match hits.get_mut(key) {
            Some(window) => {
                self.expire(window, now);
                window.len()
            }
            None => 0,
        }
    }

    /// Forgets `key` (e.g. an account's failures after a successful sign-in).
    pub fn clear(&self, key: &str) {
        self.hits.lock().expect("rate limiter lock").remove(key);
    }

    fn expire(&self, window: &mut VecDeque<Instant>, now: Instant) {
        while window
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.limit.window())
        {
            window.pop_front();
        }
    }
}

/// Doublings of the sign-in delay: 250 ms, 500 ms, 1 s, 2 s, 4 s.
pub const SIGN_IN_DELAY_STEPS: u32 = 5;

/// How long a sign-in of an account that failed `failures` times lately (from anywhere) waits
/// before its password is checked: nothing up to `after`, then 250 ms doubling to 4 s. A
/// delay, never a refusal: the rightful owner always gets in.
pub fn sign_in_delay(failures: usize, after: u32) -> Duration {
    match failures.saturating_sub(after as usize) {
        0 => Duration::ZERO,
        over => {
            let doublings = (over - 1).min(SIGN_IN_DELAY_STEPS as usize - 1) as u32;
            Duration::from_millis(250) * 2u32.pow(doublings)
        }
    }
}

/// Retry-After in whole seconds, rounded up.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_per_window_then_says_how_long_to_wait() {
        let limiter = RateLimiter::new(Limit::new(3, 60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(limiter.hit("ip", t0 + Duration::from_secs(i)).is_ok());
        }
        let wait = limiter.hit("ip", t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(limiter.check("other", t0).is_ok(), "keys are independent");
        // The first hit leaves the window at t0 + 60 s.
        assert!(limiter.hit("ip", t0 + Duration::from_secs(60)).is_ok());
        assert!(limiter.hit("ip", t0 + Duration::from_secs(60)).is_err());
    }

    #[test]
    fn clear_forgets_a_key() {
        let limiter = RateLimiter::new(Limit::new(1, 60));
        let t0 = Instant::now();
        limiter.record("acct", t0);
        assert!(limiter.check("acct", t0).is_err());
        limiter.clear("acct");
        assert!(limiter.check("acct", t0).is_ok());
    }

    #[test]
    fn sign_in_delays_grow_to_a_few_seconds_and_no_further() {
        let delays: Vec<u64> = (0..12)
            .map(|n| sign_in_delay(n, 5).as_millis() as u64)
            .collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 0, 250, 500, 1000, 2000, 4000, 4000]);
        let limiter = RateLimiter::new(Limit::new(3, 60));
        let t0 = Instant::now();
        limiter.record("acct", t0);
        limiter.record("acct", t0 + Duration::from_secs(30));
        assert_eq!(limiter.count("acct", t0 + Duration::from_secs(59)), 2);
        assert_eq!(limiter.count("acct", t0 + Duration::from_secs(60)), 1);
        assert_eq!(limiter.count("other", t0), 0);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
