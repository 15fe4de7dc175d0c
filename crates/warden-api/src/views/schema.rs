//! OpenAPI helpers for the views and request bodies: string schemas limited to a closed
//! set (states, priorities, roles, policies), taken from the domain enum's own list where
//! it has one, their nullable forms, and "any JSON value".

use serde_json::Value;
use utoipa::openapi::{Object, ObjectBuilder, Type, schema::SchemaType};
use warden_core::{JobState, OccurrenceOutcome, Priority, Role};

/// A string schema limited to `values`.
fn one_of_strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

pub(crate) fn priority_schema() -> Object {
    one_of_strings(Priority::ALL.map(Priority::as_str))
}

pub(crate) fn job_state_schema() -> Object {
    one_of_strings(JobState::ALL.map(JobState::as_str))
}

pub(crate) fn role_schema() -> Object {
    one_of_strings(Role::ALL.map(Role::as_str))
}

pub(crate) fn occurrence_outcome_schema() -> Object {
    one_of_strings(OccurrenceOutcome::ALL.map(OccurrenceOutcome::as_str))
}

/// The values `OverlapPolicy::from_str` accepts (checked by a test below).
pub(crate) const OVERLAP_VALUES: [&str; 3] = ["allow", "forbid", "replace"];
/// The values `MissedPolicy::from_str` accepts.
pub(crate) const MISSED_VALUES: [&str; 3] = ["skip", "latest", "all"];
/// The values `GapPolicy::from_str` accepts.
pub(crate) const GAP_VALUES: [&str; 2] = ["shift", "skip"];
/// The values `FoldPolicy::from_str` accepts.
pub(crate) const FOLD_VALUES: [&str; 3] = ["first", "last", "both"];

pub(crate) fn overlap_schema() -> Object {
    one_of_strings(OVERLAP_VALUES)
}

pub(crate) fn missed_schema() -> Object {
    one_of_strings(MISSED_VALUES)
}

pub(crate) fn gap_schema() -> Object {
    one_of_strings(GAP_VALUES)
}

pub(crate) fn fold_schema() -> Object {
    one_of_strings(FOLD_VALUES)
}

/// `Option<String>` limited to a closed set: the set, or `null`.
fn nullable(schema: Object) -> Object {
    let Object {
        enum_values,
        schema_type,
        ..
    } = schema;
    let mut values = enum_values.unwrap_or_default();
    values.push(Value::Null);
    let types = match schema_type {
        SchemaType::Type(t) => vec![t, Type::Null],
        SchemaType::Array(mut ts) => {
            ts.push(Type::Null);
            ts
        }
        SchemaType::AnyValue => return ObjectBuilder::new().build(),
    };
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter(types))
        .enum_values(Some(values))
        .build()
}

pub(crate) fn nullable_priority_schema() -> Object {
    nullable(priority_schema())
}

pub(crate) fn nullable_overlap_schema() -> Object {
    nullable(overlap_schema())
}

pub(crate) fn nullable_missed_schema() -> Object {
    nullable(missed_schema())
}

pub(crate) fn nullable_gap_schema() -> Object {
    nullable(gap_schema())
}

pub(crate) fn nullable_fold_schema() -> Object {
    nullable(fold_schema())
}

/// Any JSON value: a job's `data`.
pub(crate) fn any_value_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some("Any JSON value (the job's payload)."))
        .build()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use warden_core::{FoldPolicy, GapPolicy, MissedPolicy, OverlapPolicy};

    use super::*;

    fn parses_all<T: FromStr>(values: &[&str]) -> bool {
        values.iter().all(|v| v.parse::<T>().is_ok())
    }

    #[test]
    fn documented_policy_values_are_the_accepted_ones() {
        assert!(parses_all::<OverlapPolicy>(&OVERLAP_VALUES));
        assert!(parses_all::<MissedPolicy>(&MISSED_VALUES));
        assert!(parses_all::<GapPolicy>(&GAP_VALUES));
        assert!(parses_all::<FoldPolicy>(&FOLD_VALUES));
        for policy in [
            OverlapPolicy::Allow,
            OverlapPolicy::Forbid,
            OverlapPolicy::Replace,
        ] {
            assert!(OVERLAP_VALUES.contains(&policy.as_str()));
        }
        for policy in [MissedPolicy::Skip, MissedPolicy::Latest, MissedPolicy::All] {
            assert!(MISSED_VALUES.contains(&policy.as_str()));
        }
        for policy in [GapPolicy::Shift, GapPolicy::Skip] {
            assert!(GAP_VALUES.contains(&policy.as_str()));
        }
        for policy in [FoldPolicy::First, FoldPolicy::Last, FoldPolicy::Both] {
            assert!(FOLD_VALUES.contains(&policy.as_str()));
        }
    }
}
