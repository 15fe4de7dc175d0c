//! The engine's metrics: their names, label values and help texts, and the calls the
//! services make to record them.
//!
//! Recorded through the [`metrics`] facade: with no recorder installed every call is a
//! no-op. `warden_api::metrics::install_recorder` installs the Prometheus recorder and
//! calls [`register`].
//!
//! | metric | type | labels | recorded |
//! |---|---|---|---|
//! | `warden_runs_total` | counter | `outcome`: [`RunOutcome`] | by the completer after a batch is written (outcomes that counted, not a stale worker's); `lost` by the rescuer |
//! | `warden_run_duration_seconds` | histogram | — | by the completer, each counted outcome's `finished_at - started_at` |
//! | `warden_pickup_latency_seconds` | histogram | — | by the producer, each claimed job's claim time minus its `run_at` |
//! | `warden_occurrences_total` | counter | `outcome`: [`OCCURRENCE_OUTCOMES`] | by `CronEnqueuer::run_once`, from what it recorded |
//! | `warden_last_tick_timestamp_seconds` | gauge | — | by `CronEnqueuer::run_once` when it succeeds: its clock's now, in Unix seconds |
//!
//! Label values come from fixed sets — never a job id, a queue or a schedule name — so the
//! number of series is bounded. Recording is per batch: one registry lookup per metric
//! (and label value) and batch, then an atomic add or a histogram sample per job; nothing
//! is allocated per job.

use jiff::{SignedDuration, Timestamp};
use metrics::{Counter, Unit, counter, describe_counter, describe_gauge, describe_histogram};
use warden_core::{JobId, OccurrenceOutcome, RunOutcome};
use warden_store::{Completion, Occurrence};

/// Counter: attempts whose outcome was written, by `outcome`.
pub const RUNS_TOTAL: &str = "warden_runs_total";
/// Histogram, seconds: how long counted attempts ran.
pub const RUN_DURATION_SECONDS: &str = "warden_run_duration_seconds";
/// Histogram, seconds: how late jobs were claimed (claim time minus `run_at`).
pub const PICKUP_LATENCY_SECONDS: &str = "warden_pickup_latency_seconds";
/// Counter: cron occurrences recorded, by `outcome`.
pub const OCCURRENCES_TOTAL: &str = "warden_occurrences_total";
/// Gauge, Unix seconds: the clock's time at the last successful cron tick.
pub const LAST_TICK_TIMESTAMP_SECONDS: &str = "warden_last_tick_timestamp_seconds";

/// The values of `outcome` on [`OCCURRENCES_TOTAL`] (the ledger's five outcomes, folded:
/// `skipped:*` is `skipped`, `missed:*` is `missed`).
pub const OCCURRENCE_OUTCOMES: [&str; 3] = ["ran", "skipped", "missed"];

/// Describes the engine's metrics to the installed recorder (help text, unit) and
/// registers every series at zero, so a scrape lists each of them, with its help, before
/// its first event (and `rate()` sees the first increment). Call it after installing the
/// recorder; calling it again changes nothing.
pub fn register() {
    describe_counter!(
        RUNS_TOTAL,
        Unit::Count,
        "Job attempts whose outcome was written, by outcome (succeeded, retry, dead, cancelled, released; lost when the rescuer returned a job whose lease expired)."
    );
    describe_histogram!(
        RUN_DURATION_SECONDS,
        Unit::Seconds,
        "How long job attempts ran, from start to finish, for outcomes written by the completer."
    );
    describe_histogram!(
        PICKUP_LATENCY_SECONDS,
        Unit::Seconds,
        "How late jobs started: start time minus the time the job was due (run_at)."
    );
    describe_counter!(
        OCCURRENCES_TOTAL,
        Unit::Count,
        "Cron occurrences recorded, by outcome (ran: a job was enqueued; skipped: paused or overlapping; missed: past its deadline or during downtime)."
    );
    describe_gauge!(
        LAST_TICK_TIMESTAMP_SECONDS,
        Unit::Seconds,
        "Unix time of the last successful cron tick of this process (0 until the first)."
    );
    for outcome in RunOutcome::ALL {
        runs_total(outcome).increment(0);
    }
    for outcome in [Fold::Ran, Fold::Skipped, Fold::Missed] {
        outcome.counter().increment(0);
    }
    let _ = metrics::histogram!(RUN_DURATION_SECONDS);
    let _ = metrics::histogram!(PICKUP_LATENCY_SECONDS);
    let _ = metrics::gauge!(LAST_TICK_TIMESTAMP_SECONDS);
}

/// The counter of one value of `outcome` on [`RUNS_TOTAL`]. A `&'static str` label
/// value is borrowed, not allocated.
fn runs_total(outcome: RunOutcome) -> Counter {
    counter!(RUNS_TOTAL, "outcome" => outcome.as_str())
}

/// A label value of [`OCCURRENCES_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    Ran,
    Skipped,
    Missed,
}

impl Fold {
    fn of(outcome: OccurrenceOutcome) -> Self {
        match outcome {
            OccurrenceOutcome::Ran => Self::Ran,
            OccurrenceOutcome::SkippedOverlap
            | OccurrenceOutcome::SkippedPaused
            | OccurrenceOutcome::SkippedForbidden => Self::Skipped,
            OccurrenceOutcome::MissedDeadline | OccurrenceOutcome::MissedDowntime => Self::Missed,
        }
    }

    fn counter(self) -> Counter {
        match self {
            Self::Ran => counter!(OCCURRENCES_TOTAL, "outcome" => "ran"),
            Self::Skipped => counter!(OCCURRENCES_TOTAL, "outcome" => "skipped"),
            Self::Missed => counter!(OCCURRENCES_TOTAL, "outcome" => "missed"),
        }
    }
}

/// Seconds from `from` to `to`, never negative (clocks of two processes may disagree).
fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from)
        .max(SignedDuration::ZERO)
        .as_secs_f64()
}

/// A completion batch was written and the outcomes of `counted` (job ids) counted: their
/// outcomes and durations are recorded; the others (stale workers) are not.
///
/// A batch holds one completion per attempt, so a job id appears twice only for two
/// attempts of one job (a stale token and a fresh one), of which at most one counted;
/// which one the store does not say, so the first of them is taken.
pub(crate) fn completions_written(batch: &[Completion], counted: &[JobId]) {
    if counted.is_empty() {
        return;
    }
    // The usual case, every completion counted, needs no lookup.
    let mut pending = (counted.len() != batch.len()).then(|| {
        counted
            .iter()
            .copied()
            .collect::<std::collections::HashSet<_>>()
    });
    let mut by_outcome = [0u64; RunOutcome::ALL.len()];
    let duration = metrics::histogram!(RUN_DURATION_SECONDS);
    for c in batch {
        if let Some(pending) = &mut pending
            && !pending.remove(&c.id)
        {
            continue;
        }
        by_outcome[c.result.run_outcome() as usize] += 1;
        duration.record(seconds_between(c.started_at, c.finished_at));
    }
    for (outcome, n) in RunOutcome::ALL.into_iter().zip(by_outcome) {
        if n > 0 {
            runs_total(outcome).increment(n);
        }
    }
}

/// The rescuer returned `n` jobs whose lease expired (each gets a `lost` run record).
pub(crate) fn runs_lost(n: usize) {
    if n > 0 {
        runs_total(RunOutcome::Lost).increment(n as u64);
    }
}

/// A job due at `run_at` started at `started_at`: how late it was picked up. (Measured at
/// the start, not the claim: a job claimed before it is due, and held, starts at its
/// `run_at`.)
pub(crate) fn job_started(run_at: Timestamp, started_at: Timestamp) {
    metrics::histogram!(PICKUP_LATENCY_SECONDS).record(seconds_between(run_at, started_at));
}

/// A cron tick at `now` succeeded and recorded `recorded`.
pub(crate) fn cron_ticked(now: Timestamp, recorded: &[Occurrence]) {
    let (mut ran, mut skipped, mut missed) = (0u64, 0u64, 0u64);
    for o in recorded {
        match Fold::of(o.outcome) {
            Fold::Ran => ran += 1,
            Fold::Skipped => skipped += 1,
            Fold::Missed => missed += 1,
        }
    }
    for (fold, n) in [
        (Fold::Ran, ran),
        (Fold::Skipped, skipped),
        (Fold::Missed, missed),
    ] {
        if n > 0 {
            fold.counter().increment(n);
        }
    }
    metrics::gauge!(LAST_TICK_TIMESTAMP_SECONDS).set(now.as_millisecond() as f64 / 1000.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_match_the_run_records_and_the_published_sets() {
        // `runs_completed` counts by `outcome as usize`: the order of `ALL`.
        for (i, outcome) in RunOutcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome as usize, i);
        }
        for o in OccurrenceOutcome::ALL {
            let folded = OCCURRENCE_OUTCOMES[Fold::of(o) as usize];
            assert!(o.as_str().starts_with(folded), "{o:?} folds into {folded}");
        }
    }

    #[test]
    fn durations_are_never_negative() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            seconds_between(t("2030-01-01T00:00:00Z"), t("2030-01-01T00:00:01.5Z")),
            1.5
        );
        assert_eq!(
            seconds_between(t("2030-01-01T00:00:02Z"), t("2030-01-01T00:00:01Z")),
            0.0
        );
    }
}
