//! Retry timing: exponential backoff with jitter, capped.

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
    /// The delay after the `attempt`-th attempt (1-based) failed.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
        let full = self.base.saturating_mul(1u32 << exp).min(self.max);
        let half = full / 2;
        let jitter_ns = rand::rng().random_range(0..=(full - half).as_nanos() as u64);
        half + Duration::from_nanos(jitter_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
