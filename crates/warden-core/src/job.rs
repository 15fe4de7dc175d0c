//! What a job is made of: its kind, queue, priority, payload, limits, and the state machine
//! it moves through.
//!
//! # State machine
//! ```text
//!   scheduled ──► available ──► running ──► succeeded
//!       │             │            │
//!       │             │            ├──► retryable ──► available ──► running …
//!       │             │            ├──► dead        (attempts exhausted or handler failed)
//!       ▼             ▼            └──► cancelled
//!   cancelled     cancelled
//! ```
//! `retryable` and `scheduled` jobs whose `run_at` has come are claimable: the store's claim
//! performs `→ available → running` in one statement, so no extra write is spent on the
//! hot path. A running job whose lease expired goes back to `retryable` (or `dead` when its
//! attempts are used up): see the rescuer.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{ParseError, error::excerpt};

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

fn parse_name(field: &'static str, value: &str, max: usize) -> Result<String, ParseError> {
    let expected = format!("1 to {max} characters from A-Z, a-z, 0-9, '-', '_', '.', ':'");
    if value.is_empty() {
        return Err(ParseError::new(field, "is empty", expected));
    }
    if value.len() > max {
        return Err(ParseError::new(
            field,
            format!("is {} characters long", value.len()),
            expected,
        ));
    }
    if let Some(bad) = value.chars().find(|c| !is_name_char(*c)) {
        return Err(ParseError::new(
            field,
            format!("{} contains {bad:?}", excerpt(value)),
            expected,
        ));
    }
    Ok(value.to_owned())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a name; see the type's documentation for what is accepted.
            pub fn parse(value: &str) -> Result<Self, ParseError> {
                parse_name($field, value, $max).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, ParseError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// The type of a job (`jobType` in the API), e.g. `send-email`. Selects the handler.
    /// 1–128 characters from `A-Z a-z 0-9 - _ . :`.
    JobKind,
    "jobType",
    128
);
name_type!(
    /// A named queue, e.g. `COMMUNICATIONS`. 1–64 characters from `A-Z a-z 0-9 - _ . :`.
    /// Queues are declared in the engine's configuration; an undeclared queue is refused.
    QueueName,
    "queueName",
    64
);

impl QueueName {
    /// The queue used when none is given.
    pub fn default_queue() -> Self {
        Self("default".to_owned())
    }
}

crate::vocabulary! {
    /// How urgent a job is. Claims take higher priorities first, then the oldest `run_at`.
    #[derive(Default, PartialOrd, Ord)]
    pub enum Priority: "priority", "a priority" {
        Critical = "critical",
        High = "high",
        #[default]
        Medium = "medium",
        Low = "low",
    }
}

impl Priority {
    /// The stored rank: lower runs first.
    pub fn rank(self) -> i16 {
        self as i16
    }

    pub fn from_rank(rank: i16) -> Option<Self> {
        Self::ALL.get(usize::try_from(rank).ok()?).copied()
    }
}

crate::vocabulary! {
    /// Where a job is in its life. See the module documentation for the diagram.
    pub enum JobState: "state", "a job state" {
        Scheduled = "scheduled",
        Available = "available",
        Running = "running",
        Retryable = "retryable",
        Succeeded = "succeeded",
        Dead = "dead",
        Cancelled = "cancelled",
    }
}

impl JobState {
    /// Whether the state machine allows `self → next`.
    pub fn can_transition_to(self, next: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, next),
            (Scheduled, Available | Cancelled)
                | (Available, Running | Cancelled)
                | (Running, Succeeded | Retryable | Dead | Cancelled)
                | (Retryable, Available | Cancelled)
        )
    }

    /// A final state: the job will never run again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Dead | JobState::Cancelled
        )
    }
}

/// A job's JSON payload (`data` in the API), kept as its serialized bytes.
///
/// Bounded: at most [`Payload::DEFAULT_MAX_BYTES`] unless the engine is configured
/// otherwise. Stored as opaque bytes so encryption at rest needs no schema change.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Vec<u8>);

impl Payload {
    /// 1 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;

    /// Serializes a JSON value, refusing it when larger than `max_bytes`.
    pub fn from_json(value: &serde_json::Value, max_bytes: usize) -> Result<Self, ParseError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| ParseError::new("data", e.to_string(), "a JSON value"))?;
        Self::check_size(bytes, max_bytes)
    }

    /// Parses bytes that must hold one JSON value, refusing them when larger than `max_bytes`.
    pub fn from_json_bytes(bytes: Vec<u8>, max_bytes: usize) -> Result<Self, ParseError> {
        let bytes = Self::check_size(bytes, max_bytes)?;
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes.0)
            .map_err(|e| ParseError::new("data", format!("is not JSON ({e})"), "a JSON value"))?;
        Ok(bytes)
    }

    fn check_size(bytes: Vec<u8>, max_bytes: usize) -> Result<Self, ParseError> {
        if bytes.len() > max_bytes {
            return Err(ParseError::new(
                "data",
                format!("is {} bytes of JSON", bytes.len()),
                format!(
                    "at most {max_bytes} bytes; store large blobs elsewhere and pass a reference"
                ),
            ));
        }
        Ok(Self(bytes))
    }

    /// Wraps bytes read back from the store (they were checked when written).
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The payload as a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Debug for Payload {
    // Payloads may hold personal data: never print their content in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({} bytes)", self.0.len())
    }
}

/// How long one attempt may run before it is stopped. Between 1 ms and 24 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobTimeout(Duration);

impl JobTimeout {
    pub const MAX: Duration = Duration::from_secs(24 * 3600);
    /// Five minutes.
    pub const DEFAULT: JobTimeout = JobTimeout(Duration::from_secs(300));

    pub fn new(duration: Duration) -> Result<Self, ParseError> {
        if duration.is_zero() || duration > Self::MAX {
            return Err(ParseError::new(
                "timeout",
                format!("{} ms is out of range", duration.as_millis()),
                "between 1 ms and 86400000 ms (24 h)",
            ));
        }
        Ok(Self(duration))
    }

    /// From milliseconds as users write them (`timeout: 30000`); negative values are refused.
    pub fn from_millis(ms: i64) -> Result<Self, ParseError> {
        let ms = u64::try_from(ms).map_err(|_| {
            ParseError::new(
                "timeout",
                format!("{ms} ms is negative"),
                "between 1 ms and 86400000 ms (24 h)",
            )
        })?;
        Self::new(Duration::from_millis(ms))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }

    pub fn as_millis(self) -> i64 {
        // At most 24 h, so this cannot overflow.
        self.0.as_millis() as i64
    }
}

impl Default for JobTimeout {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How many attempts a job gets in all (the first run included). Between 1 and 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaxAttempts(u16);

impl MaxAttempts {
    pub const DEFAULT: MaxAttempts = MaxAttempts(5);

    pub fn new(n: i64) -> Result<Self, ParseError> {
        if !(1..=100).contains(&n) {
            return Err(ParseError::new(
                "maxAttempts",
                format!("{n} is out of range"),
                "between 1 and 100",
            ));
        }
        Ok(Self(n as u16))
    }

    pub fn get(self) -> i32 {
        i32::from(self.0)
    }
}

impl Default for MaxAttempts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_legal_transitions_are_allowed() {
        use JobState::*;
        let legal = [
            (Scheduled, Available),
            (Scheduled, Cancelled),
            (Available, Running),
            (Available, Cancelled),
            (Running, Succeeded),
            (Running, Retryable),
            (Running, Dead),
            (Running, Cancelled),
            (Retryable, Available),
            (Retryable, Cancelled),
        ];
        for from in JobState::ALL {
            for to in JobState::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        for terminal in [Succeeded, Dead, Cancelled] {
            assert!(terminal.is_terminal());
        }
    }

    #[test]
    fn names_are_checked_and_errors_name_the_field() {
        assert!(QueueName::parse("COMMUNICATIONS").is_ok());
        let err = QueueName::parse("bad queue").unwrap_err();
        assert_eq!(err.field, "queueName");
        assert!(err.to_string().contains("' '"), "{err}");
        assert_eq!(JobKind::parse("").unwrap_err().field, "jobType");
        assert!(JobKind::parse(&"x".repeat(129)).is_err());
        assert!(JobKind::parse(&"x".repeat(128)).is_ok());
    }

    #[test]
    fn priorities_parse_and_rank() {
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), p);
            assert_eq!(Priority::from_rank(p.rank()), Some(p));
        }
        assert!(Priority::Critical.rank() < Priority::Low.rank());
        let err = "urgent".parse::<Priority>().unwrap_err();
        assert!(err.to_string().contains("critical, high, medium or low"));
    }

    #[test]
    fn payload_is_bounded_and_must_be_json() {
        let big = serde_json::Value::String("x".repeat(100));
        assert!(Payload::from_json(&big, 50).is_err());
        assert!(Payload::from_json(&big, 1000).is_ok());
        let err = Payload::from_json_bytes(b"{not json".to_vec(), 1000).unwrap_err();
        assert_eq!(err.field, "data");
        assert_eq!(
            format!(
                "{:?}",
                Payload::from_json(&serde_json::json!({"secret": 1}), 100).unwrap()
            ),
            "Payload(12 bytes)"
        );
    }

    #[test]
    fn timeouts_refuse_negative_zero_and_absurd_values() {
        assert!(JobTimeout::from_millis(-1).is_err());
        assert!(JobTimeout::from_millis(0).is_err());
        assert!(JobTimeout::from_millis(86_400_001).is_err());
        assert_eq!(JobTimeout::from_millis(30_000).unwrap().as_millis(), 30_000);
        assert!(MaxAttempts::new(0).is_err());
        assert!(MaxAttempts::new(101).is_err());
    }
}
