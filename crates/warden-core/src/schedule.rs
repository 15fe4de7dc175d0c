//! Schedule policies and the pure decision of what happens to each due occurrence.
//!
//! # Model
//! Every occurrence of a schedule (a fire instant) ends in exactly one outcome, recorded
//! in the occurrence ledger under (schedule id, instant). [`plan_occurrences`] decides,
//! for the occurrences that came due since the last tick, which should run and which are
//! missed or skipped. Overlap (`allow`/`forbid`/`replace`) is decided by
//! [`resolve_overlap`], which the store applies inside the transaction that records the
//! occurrence, because only there is "is the previous job still active?" race-free.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::ParseError;

crate::vocabulary! {
    /// What to do when an occurrence comes due while the previous one's job is still active
    /// (as Kubernetes' `concurrencyPolicy`).
    #[derive(Default)]
    pub enum OverlapPolicy: "overlap", "an overlap policy" {
        /// Run it anyway, alongside.
        Allow = "allow",
        /// Do not run it: record `skipped:overlap` (default).
        #[default]
        Forbid = "forbid",
        /// Cancel the active job and run the new one.
        Replace = "replace",
    }
}

crate::vocabulary! {
    /// What to do with occurrences that came due while warden was down or stalled.
    #[derive(Default)]
    pub enum MissedPolicy: "missed", "a missed-run policy" {
        /// Record them as missed; run none.
        Skip = "skip",
        /// Run the most recent one, record the others as missed (default).
        #[default]
        Latest = "latest",
        /// Run every one within the catch-up window, record older ones as missed.
        All = "all",
    }
}

/// How far back `MissedPolicy::All` catches up. Default 1 hour, at most 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CatchUpWindow(Duration);

impl CatchUpWindow {
    pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

    pub fn new(d: Duration) -> Result<Self, ParseError> {
        if d > Self::MAX {
            return Err(ParseError::new(
                "catchUpWindow",
                format!("{} s is too long", d.as_secs()),
                "at most 604800 s (7 days)",
            ));
        }
        Ok(Self(d))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl Default for CatchUpWindow {
    fn default() -> Self {
        Self(Duration::from_secs(3600))
    }
}

crate::vocabulary! {
    /// The one recorded outcome of an occurrence.
    pub enum OccurrenceOutcome: "outcome", "an occurrence outcome" {
        /// A job was enqueued for it.
        Ran = "ran",
        /// The previous job was still active and the overlap policy is `forbid`.
        SkippedOverlap = "skipped:overlap",
        /// The schedule was paused.
        SkippedPaused = "skipped:paused",
        /// Its owner may not run it now: disabled, the job type or priority is outside its
        /// limits, or its `maxActive` is reached (the schedule says which).
        SkippedForbidden = "skipped:forbidden",
        /// Warden was running but the occurrence was not enqueued within its grace period.
        MissedDeadline = "missed:deadline",
        /// Warden was not running when it came due.
        MissedDowntime = "missed:downtime",
    }
}

/// What the cron enqueuer intends for one due occurrence, before overlap is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Enqueue a job (the store may still record `skipped:overlap`).
    Run,
    /// Record this outcome; enqueue nothing.
    Record(OccurrenceOutcome),
}

/// The facts [`plan_occurrences`] decides from.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput {
    pub now: Timestamp,
    /// When this enqueuer started: occurrences before it were slept through (downtime).
    pub up_since: Timestamp,
    /// How late an occurrence may be enqueued and still count as on time.
    pub grace: Duration,
    pub paused: bool,
    pub missed: MissedPolicy,
    pub catch_up: CatchUpWindow,
}

/// Decides the fate of `due` occurrences (oldest first, all `<= input.now`).
///
/// - Paused: every one is `skipped:paused`.
/// - On time (at most `grace` late): run.
/// - Late: `missed:downtime` if it came due before `up_since`, else `missed:deadline`,
///   except that `latest` runs the most recent late one when nothing on time runs, and
///   `all` runs every late one within the catch-up window.
pub fn plan_occurrences(due: &[Timestamp], input: &PlanInput) -> Vec<(Timestamp, Plan)> {
    let grace = SignedDuration::try_from(input.grace).unwrap_or(SignedDuration::MAX);
    let window =
        SignedDuration::try_from(input.catch_up.as_duration()).unwrap_or(SignedDuration::MAX);
    let lateness = |t: Timestamp| input.now.duration_since(t);
    let any_on_time = due.iter().any(|t| lateness(*t) <= grace);
    let latest_late = due.iter().copied().filter(|t| lateness(*t) > grace).max();
    due.iter()
        .map(|&t| {
            if input.paused {
                return (t, Plan::Record(OccurrenceOutcome::SkippedPaused));
            }
            if lateness(t) <= grace {
                return (t, Plan::Run);
            }
            let run_late = match input.missed {
                MissedPolicy::Skip => false,
                MissedPolicy::Latest => !any_on_time && Some(t) == latest_late,
                MissedPolicy::All => lateness(t) <= window,
            };
            if run_late {
                (t, Plan::Run)
            } else if t < input.up_since {
                (t, Plan::Record(OccurrenceOutcome::MissedDowntime))
            } else {
                (t, Plan::Record(OccurrenceOutcome::MissedDeadline))
            }
        })
        .collect()
}

/// What an occurrence that comes due becomes, given its plan and whether a job of the
/// schedule is still active (`has_active`, read in the transaction that records it). The
/// `bool` says whether the active jobs must be cancelled (`replace`).
pub fn resolve_overlap(
    plan: Plan,
    overlap: OverlapPolicy,
    has_active: bool,
) -> (OccurrenceOutcome, bool) {
    match plan {
        Plan::Record(outcome) => (outcome, false),
        Plan::Run if !has_active => (OccurrenceOutcome::Ran, false),
        Plan::Run => match overlap {
            OverlapPolicy::Allow => (OccurrenceOutcome::Ran, false),
            OverlapPolicy::Forbid => (OccurrenceOutcome::SkippedOverlap, false),
            OverlapPolicy::Replace => (OccurrenceOutcome::Ran, true),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_matters_only_to_a_run_while_a_job_is_active() {
        use OccurrenceOutcome::{MissedDeadline, Ran, SkippedOverlap};
        for overlap in [
            OverlapPolicy::Allow,
            OverlapPolicy::Forbid,
            OverlapPolicy::Replace,
        ] {
            assert_eq!(resolve_overlap(Plan::Run, overlap, false), (Ran, false));
            for active in [false, true] {
                let missed = Plan::Record(MissedDeadline);
                assert_eq!(
                    resolve_overlap(missed, overlap, active),
                    (MissedDeadline, false)
                );
            }
        }
        let active = |overlap| resolve_overlap(Plan::Run, overlap, true);
        assert_eq!(active(OverlapPolicy::Allow), (Ran, false));
        assert_eq!(active(OverlapPolicy::Forbid), (SkippedOverlap, false));
        assert_eq!(active(OverlapPolicy::Replace), (Ran, true));
    }

    fn t(min: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + min * 60).unwrap()
    }

    fn input(missed: MissedPolicy) -> PlanInput {
        PlanInput {
            now: t(100),
            up_since: t(99),
            grace: Duration::from_secs(60),
            paused: false,
            missed,
            catch_up: CatchUpWindow::new(Duration::from_secs(30 * 60)).unwrap(),
        }
    }

    const MISSED: Plan = Plan::Record(OccurrenceOutcome::MissedDowntime);

    #[test]
    fn skip_records_every_late_occurrence_as_missed() {
        let due = [t(10), t(80), t(90), t(100)];
        let plan = plan_occurrences(&due, &input(MissedPolicy::Skip));
        assert_eq!(
            plan,
            [
                (t(10), MISSED),
                (t(80), MISSED),
                (t(90), MISSED),
                (t(100), Plan::Run)
            ]
        );
    }

    #[test]
    fn latest_runs_only_the_most_recent_late_one_when_nothing_is_on_time() {
        let due = [t(10), t(80), t(90)];
        let plan = plan_occurrences(&due, &input(MissedPolicy::Latest));
        assert_eq!(plan, [(t(10), MISSED), (t(80), MISSED), (t(90), Plan::Run)]);
        let due = [t(80), t(90), t(100)];
        let plan = plan_occurrences(&due, &input(MissedPolicy::Latest));
        assert_eq!(
            plan,
            [(t(80), MISSED), (t(90), MISSED), (t(100), Plan::Run)]
        );
    }

    #[test]
    fn all_runs_late_occurrences_within_the_window() {
        let due = [t(10), t(80), t(90)];
        let plan = plan_occurrences(&due, &input(MissedPolicy::All));
        assert_eq!(
            plan,
            [(t(10), MISSED), (t(80), Plan::Run), (t(90), Plan::Run)]
        );
    }

    #[test]
    fn late_while_up_is_a_deadline_miss_and_paused_skips_everything() {
        let mut i = input(MissedPolicy::Skip);
        i.up_since = t(0);
        assert_eq!(
            plan_occurrences(&[t(90)], &i),
            [(t(90), Plan::Record(OccurrenceOutcome::MissedDeadline))]
        );
        i.paused = true;
        assert_eq!(
            plan_occurrences(&[t(100)], &i),
            [(t(100), Plan::Record(OccurrenceOutcome::SkippedPaused))]
        );
    }

    #[test]
    fn outcomes_round_trip_through_their_names() {
        for o in OccurrenceOutcome::ALL {
            assert_eq!(o.as_str().parse::<OccurrenceOutcome>().unwrap(), o);
        }
        assert_eq!(
            "forbid".parse::<OverlapPolicy>().unwrap(),
            OverlapPolicy::Forbid
        );
        assert!(
            "sometimes"
                .parse::<MissedPolicy>()
                .unwrap_err()
                .to_string()
                .contains("skip, latest or all")
        );
    }
}
