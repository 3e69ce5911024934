//! When a failed job is tried again: exponential backoff with jitter (about 1 s, doubling, to
//! a cap of an hour), never sooner than the provider asked, and dead after the last attempt.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt (before jitter).
    pub first: Duration,
    /// The longest backoff (a provider's `Retry-After` may ask for more, up to a day).
    pub max: Duration,
    /// Attempts in all; after the last one fails the job is dead.
    pub max_attempts: i32,
}

/// However long a provider asks to wait, a job is tried again within a day.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_secs(1),
            max: Duration::from_secs(3600),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` attempts failed, or `None` when that was the last one.
    /// `jitter` in `[0, 1)` spreads the wait over its upper half ("equal jitter"), so a burst
    /// of jobs that failed together does not come back together; `retry_after` is a floor.
    pub fn next_wait(
        &self,
        attempts: i32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let backoff = self.first.saturating_mul(1u32 << doublings).min(self.max);
        let jittered = backoff.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        let floor = retry_after.unwrap_or_default().min(LONGEST_RETRY_AFTER);
        Some(jittered.max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_a_second_to_the_cap_then_gives_up() {
        let policy = RetryPolicy {
            max_attempts: 20,
            ..Default::default()
        };
        let waits: Vec<u64> = (1..20)
            .map(|attempt| policy.next_wait(attempt, None, 1.0).unwrap().as_secs())
            .collect();
        assert_eq!(&waits[..6], &[1, 2, 4, 8, 16, 32]);
        assert_eq!(waits[11], 2048);
        assert_eq!(waits[12], 3600, "capped at an hour");
        assert_eq!(waits[18], 3600);
        assert_eq!(policy.next_wait(20, None, 0.5), None);

        let default = RetryPolicy::default();
        assert!(default.next_wait(11, None, 0.0).is_some());
        assert_eq!(
            default.next_wait(12, None, 0.0),
            None,
            "twelve attempts in all"
        );
    }

    #[test]
    fn jitter_spreads_over_the_upper_half() {
        let policy = RetryPolicy::default();
        let low = policy.next_wait(4, None, 0.0).unwrap();
        let high = policy.next_wait(4, None, 0.999).unwrap();
        assert_eq!(low, Duration::from_secs(4));
        assert!(high > Duration::from_millis(7900) && high <= Duration::from_secs(8));
    }

    #[test]
    fn the_providers_wait_is_a_floor() {
        let policy = RetryPolicy::default();
        let asked = Some(Duration::from_secs(60));
        assert_eq!(policy.next_wait(1, asked, 0.3), asked);
        // A shorter Retry-After than the backoff changes nothing.
        assert_eq!(
            policy.next_wait(8, Some(Duration::from_secs(1)), 1.0),
            Some(Duration::from_secs(128))
        );
        // A week is a day.
        assert_eq!(
            policy.next_wait(1, Some(Duration::from_secs(7 * 24 * 3600)), 0.0),
            Some(LONGEST_RETRY_AFTER)
        );
        // Out of attempts, the provider's wish does not matter.
        assert_eq!(policy.next_wait(12, asked, 0.0), None);
    }
}
