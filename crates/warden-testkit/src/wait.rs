//! Waiting on a condition instead of the clock: poll a real check until it holds, and fail
//! with what was awaited when a deadline passes.
//!
//! A test that sleeps for a fixed time guesses how long the code takes: too short and it
//! flakes on a loaded machine, too long and every run pays for it. These helpers poll every
//! [`POLL_EVERY`] and give up after [`DEADLINE`], so a test waits only as long as the code
//! needs and a stuck one still ends with a message naming what never happened.
//!
//! - [`eventually`] and [`eventually_some`]: async, for tests on a tokio runtime.
//! - [`eventually_blocking`]: the same on a plain thread, for tests that drive a process.

use std::{future::Future, time::Duration};

/// How often a condition is checked again.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// How long a condition may take before the test fails: long enough for a loaded CI
/// machine, short enough that a stuck test ends.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `check` until it holds; panics naming `what` after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_some(what, || {
        let held = check();
        async move { held.await.then_some(()) }
    })
    .await
}

/// Polls `check` until it yields a value and returns it; panics naming `what` after
/// [`DEADLINE`].
pub async fn eventually_some<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for: {what}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Polls `check` on this thread until it yields a value and returns it; panics naming
/// `what` after [`DEADLINE`]. For tests without a runtime (they drive a `warden` process).
pub fn eventually_blocking<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for: {what}"
        );
        std::thread::sleep(POLL_EVERY);
    }
}
