//! What a role that sees payloads redacted is shown: payloads with sensitive keys
//! hidden, errors and output strings with sensitive `name: value` pairs hidden. The rule
//! (which names) is [`warden_core::redact`], shared with the HTTP executor.

use serde_json::Value;
use warden_core::redact::{redact_json, redact_text};

/// A run's output as shown to a role that sees payloads redacted: sensitive keys, and
/// sensitive `name: value` pairs inside its strings (the body excerpt).
pub(super) fn redact_output(value: Value) -> Value {
    fn strings(value: Value) -> Value {
        match value {
            Value::String(s) => Value::String(redact_text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(strings).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, strings(v))).collect())
            }
            other => other,
        }
    }
    strings(redact_json(value))
}

/// An error message as shown to a role that may (`redacted`) see payloads redacted.
pub(super) fn error_text(error: Option<&str>, redacted: bool) -> Option<String> {
    error.map(|e| {
        if redacted {
            redact_text(e)
        } else {
            e.to_owned()
        }
    })
}

/// A job's or schedule's payload as shown: sensitive keys hidden when `redacted`.
pub(super) fn data(payload: Value, redacted: bool) -> Value {
    if redacted {
        redact_json(payload)
    } else {
        payload
    }
}
