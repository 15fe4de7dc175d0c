//! Conversions shared by both backends: timestamps as integer microseconds, enum names.

use jiff::Timestamp;
use warden_core::{JobState, Priority};

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
