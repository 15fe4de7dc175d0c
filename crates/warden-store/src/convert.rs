//! Conversions shared by both backends: timestamps as integer microseconds, enum names,
//! and the overlap decision made inside the occurrence transaction.

use jiff::Timestamp;
use warden_core::{JobState, OccurrenceOutcome, OverlapPolicy, Plan, Priority};

use crate::StoreError;

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Corrupt(format!("timestamp {us}: {e}")))
}

pub(crate) fn opt_from_micros(us: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    us.map(from_micros).transpose()
}

pub(crate) fn priority(rank: i16) -> Result<Priority, StoreError> {
    Priority::from_rank(rank).ok_or_else(|| StoreError::Corrupt(format!("priority rank {rank}")))
}

pub(crate) fn state(s: &str) -> Result<JobState, StoreError> {
    Ok(s.parse::<JobState>()?)
}

/// What an occurrence that comes due becomes, given its plan and whether a job of the
/// schedule is still active. The `bool` says whether the active jobs must be cancelled.
pub(crate) fn resolve_overlap(
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
