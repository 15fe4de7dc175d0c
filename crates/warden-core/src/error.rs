//! The one parse error of the domain: it names the field, what was wrong, and what is accepted.

use std::fmt;

/// A value was refused while parsing it into a domain type.
///
/// The message is meant for the person who sent the value: it names the field, says what
/// was wrong and what would be accepted. It never contains a secret (domain values are not
/// secrets; callers parsing secrets must not use this type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ParseError {
    /// The field, as the user wrote it (`queueName`, `cron`, `timezone`, …).
    pub field: &'static str,
    /// What was wrong with the value.
    pub problem: String,
    /// What is accepted instead.
    pub expected: String,
}

impl ParseError {
    pub fn new(
        field: &'static str,
        problem: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            field,
            problem: problem.into(),
            expected: expected.into(),
        }
    }

    /// The same error, for a field the caller names differently (a principal id parsed
    /// as a job's `owner`).
    pub fn for_field(self, field: &'static str) -> Self {
        Self { field, ..self }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid `{}`: {}; expected {}",
            self.field, self.problem, self.expected
        )
    }
}

/// Shortens a user-supplied value for an error message, so a huge input does not
/// become a huge error.
#[doc(hidden)]
pub fn excerpt(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}… ({} characters)", value.chars().count())
    }
}
