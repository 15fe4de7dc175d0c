//! Redaction by name: the one list of names whose values are secrets, and the rules that
//! hide those values in JSON and in free text.
//!
//! # Model
//! A name is sensitive when, lower-cased and without `-` and `_`, it contains one of
//! [`SENSITIVE_NAMES`] (`X-Api-Key`, `client_secret`, `smtpPassword`, `Set-Cookie`, …).
//! Its value then reads [`REDACTED`], whatever it holds. Two crates apply the rule:
//!
//! - the API, to what it shows a role that sees payloads redacted: job and schedule
//!   payloads ([`redact_json`], at any depth), run errors and the strings of run outputs
//!   ([`redact_text`], the value after a sensitive name and a `:` or `=`);
//! - the HTTP executor, to the request headers it records and the headers it drops on a
//!   redirect to another origin (with, on top, its run's own secret values).
//!
//! It lives here, in the crate both depend on, so that a name added to the list is
//! hidden everywhere at once.
//!
//! # Limits
//! By name only: a secret under an innocent name (`"note": "hunter2"`) is shown. The
//! executor also redacts the values it substituted; the API cannot know them.

use serde_json::{Map, Value};

/// The replacement text.
pub const REDACTED: &str = "[REDACTED]";

/// Parts of a name that make its value secret, lower-case and without `-` or `_` (so
/// `apikey` covers `api-key`, `api_key` and `X-ApiKey`, and `authorization` covers
/// `Proxy-Authorization`).
pub const SENSITIVE_NAMES: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "privatekey",
];

/// Whether the value of a key, field or header called `name` is a secret (see the
/// module documentation).
pub fn is_sensitive_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['-', '_'], "");
    SENSITIVE_NAMES.iter().any(|s| n.contains(s))
}

/// Replaces the values of sensitive-looking keys, at any depth, with [`REDACTED`].
pub fn redact_json(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_sensitive_name(&k) {
                        Value::String(REDACTED.into())
                    } else {
                        redact_json(v)
                    };
                    (k, v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact_json).collect()),
        other => other,
    }
}

/// Replaces, in free text, the value that follows a sensitive-looking name and a `:` or
/// `=`: `"access_token": "x"`, `password=x`, `Authorization: Bearer x`. Run errors and
/// the body excerpts of HTTP jobs are text (often a truncated JSON body that no longer
/// parses), so [`redact_json`] alone would miss them.
pub fn redact_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !is_name_byte(bytes[i]) || (i > 0 && is_name_byte(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_name_byte(bytes[i]) {
            i += 1;
        }
        if !is_sensitive_name(&text[start..i]) {
            continue;
        }
        if let Some((from, to)) = value_after_name(bytes, i) {
            out.push_str(&text[copied..from]);
            out.push_str(REDACTED);
            copied = to;
            i = to;
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The byte range of the value after a name ending at `i`: an optional closing quote,
/// `:` or `=`, then a quoted string (escapes honoured) or a bare word (with the word after
/// `Bearer`/`Basic`). `None` when no separator follows (the name was just a word).
fn value_after_name(bytes: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let skip_spaces = |mut i: usize| {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        i
    };
    if i < bytes.len() && matches!(bytes[i], b'"' | b'\'') {
        i += 1;
    }
    i = skip_spaces(i);
    if i >= bytes.len() || !matches!(bytes[i], b':' | b'=') {
        return None;
    }
    i = skip_spaces(i + 1);
    if i < bytes.len() && matches!(bytes[i], b'"' | b'\'') {
        let quote = bytes[i];
        let from = i + 1;
        let mut j = from;
        while j < bytes.len() && bytes[j] != quote {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        return Some((from, j.min(bytes.len())));
    }
    let word_end = |mut j: usize| {
        while j < bytes.len() && !b",;&}] \t\r\n\"'".contains(&bytes[j]) {
            j += 1;
        }
        j
    };
    let mut end = word_end(i);
    let word = &bytes[i..end];
    if word.eq_ignore_ascii_case(b"bearer") || word.eq_ignore_ascii_case(b"basic") {
        end = word_end(skip_spaces(end));
    }
    (end > i).then_some((i, end))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sensitive_names_are_found_whatever_their_case_and_separators() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "COOKIE",
            "Set-Cookie",
            "X-API-Key",
            "x-apikey",
            "api_key",
            "X-Auth-Token",
            "X-Client-Secret",
            "smtpPassword",
            "db_passwd",
            "privateKey",
            "aws-credentials",
        ] {
            assert!(is_sensitive_name(name), "{name}");
        }
        for name in ["Content-Type", "to", "note", "user", "api", "key"] {
            assert!(!is_sensitive_name(name), "{name}");
        }
    }

    #[test]
    fn sensitive_values_in_text_are_redacted() {
        for (text, kept) in [
            (
                r#"HTTP 401: {"access_token": "tok-1", "note": "n"}"#,
                r#"HTTP 401: {"access_token": "[REDACTED]", "note": "n"}"#,
            ),
            (
                r#"{"password":"p\"w","x":1}"#,
                r#"{"password":"[REDACTED]","x":1}"#,
            ),
            ("password=hunter2&user=bob", "password=[REDACTED]&user=bob"),
            (
                "Authorization: Bearer abc.def rest",
                "Authorization: [REDACTED] rest",
            ),
            (
                "client_secret = s3cr3t, next",
                "client_secret = [REDACTED], next",
            ),
            ("the token expired; retry", "the token expired; retry"),
            (r#"{"apiKey": "unterminated"#, r#"{"apiKey": "[REDACTED]"#),
        ] {
            assert_eq!(redact_text(text), kept, "{text}");
        }
    }

    #[test]
    fn sensitive_fields_are_redacted_at_any_depth() {
        let v = json!({"to": "a@b.c", "smtpPassword": "p", "nested": [{"API-Key": "k", "n": 1}], "Authorization": "Bearer x"});
        assert_eq!(
            redact_json(v),
            json!({"to": "a@b.c", "smtpPassword": "[REDACTED]", "nested": [{"API-Key": "[REDACTED]", "n": 1}], "Authorization": "[REDACTED]"})
        );
    }
}
