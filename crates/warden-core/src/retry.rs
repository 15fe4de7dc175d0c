//! Retry timing: exponential backoff with jitter, capped.
//!
//! The one doubling curve of warden: job retries use [`RetryPolicy::backoff`] (equal
//! jitter); the engine's periodic services that fail (a schedule that cannot be fired, the
//! cron loop) spread [`RetryPolicy::delay`] with their own ±10% jitter.

use std::time::Duration;

use rand::Rng;

/// How long to wait before attempt `n + 1` after attempt `n` failed.
///
/// The delay is `base * 2^(n-1)`, capped at `max`, then "equal jitter": a random point in
/// `[delay/2, delay]`, so jobs that failed together do not retry in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// 1 s, doubling, capped at 1 h.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The delay after the `failures`-th failure in a row (1 for the first; 0 counts as 1),
    /// before jitter: `base`, doubled for each further failure, at most `max`.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }

    /// The delay after the `attempt`-th attempt (1-based) failed: [`Self::delay`] with
    /// equal jitter.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let full = self.delay(u32::try_from(attempt).unwrap_or(0));
        let half = full / 2;
        let jitter_ns = rand::rng().random_range(0..=(full - half).as_nanos() as u64);
        half + Duration::from_nanos(jitter_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_from_base_up_to_its_cap() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        for (failures, secs) in [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 4),
            (6, 32),
            (7, 60),
            (u32::MAX, 60),
        ] {
            assert_eq!(
                p.delay(failures),
                Duration::from_secs(secs),
                "failure {failures}"
            );
        }
    }

    #[test]
    fn backoff_grows_exponentially_within_jitter_and_is_capped() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        for attempt in 1..=10 {
            let full = Duration::from_secs(1u64 << (attempt - 1)).min(p.max);
            for _ in 0..50 {
                let d = p.backoff(attempt);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
        assert!(p.backoff(1000) <= p.max);
    }
}
