//! Per-connection flood control: a token bucket, driven by the caller's clock.

use std::time::Instant;

/// Allows bursts of `burst` messages and `per_second` on average after that.
pub struct FloodGuard {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl FloodGuard {
    pub fn new(burst: u32, per_second: u32, now: Instant) -> Self {
        FloodGuard {
            burst: f64::from(burst),
            per_second: f64::from(per_second),
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes one token; false when the sender is over its rate.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(3, 10, t0);
        assert!(guard.allow(t0) && guard.allow(t0) && guard.allow(t0));
        assert!(!guard.allow(t0), "burst spent");
        assert!(!guard.allow(t0 + Duration::from_millis(50)), "half a token");
        assert!(
            guard.allow(t0 + Duration::from_millis(100)),
            "one token after 100 ms"
        );
        assert!(guard.allow(t0 + Duration::from_secs(10)));
        assert!(guard.allow(t0 + Duration::from_secs(10)));
        assert!(guard.allow(t0 + Duration::from_secs(10)));
        assert!(
            !guard.allow(t0 + Duration::from_secs(10)),
            "refill is capped at the burst"
        );
    }
}
