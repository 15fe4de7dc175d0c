//! Redaction: secret values and sensitive header values become `[REDACTED]`.
//!
//! # Model
//! Two rules, applied to everything logged, stored in run records, put in error messages
//! or returned by the API:
//!
//! 1. **Values.** A [`Redactor`] holds the secret values used by a run (every value
//!    substituted from the environment or a secret provider) and replaces each occurrence
//!    in a text, longest first. Values shorter than [`MIN_SECRET_CHARS`] are ignored:
//!    redacting `1` or `on` would destroy every message while protecting nothing. Each
//!    value is also matched in its JSON-escaped and percent-encoded forms, since a server
//!    that echoes a request usually does so in one of them.
//! 2. **Headers.** Values of headers with a sensitive name (`Authorization`, `Cookie`,
//!    `X-API-Key`, `X-Auth-Token`, …: [`is_sensitive_name`], the list the API redacts
//!    payloads by) are always redacted, whatever they contain.
//!
//! # Limits
//! A secret is found only as an exact substring (or in the two encodings above): a
//! server that transforms it (base64, hashing, truncation) defeats rule 1. A secret made
//! of the characters of `[REDACTED]` itself could reappear around a replacement.

use std::{borrow::Cow, fmt};

use secrecy::{ExposeSecret, SecretString};
use warden_core::redact::{REDACTED, is_sensitive_name};

/// Values shorter than this (in characters) are not redacted by value.
pub const MIN_SECRET_CHARS: usize = 4;

/// Replaces known secret values in text. Cheap to share; `Debug` shows only a count.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    patterns: Vec<SecretString>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor for these values (and their JSON and URL encodings).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a SecretString>) -> Self {
        let mut r = Self::default();
        r.extend(secrets);
        r
    }

    /// Adds more values.
    pub fn extend<'a>(&mut self, secrets: impl IntoIterator<Item = &'a SecretString>) {
        for s in secrets {
            let value = s.expose_secret();
            if value.chars().count() < MIN_SECRET_CHARS {
                continue;
            }
            let json = serde_json::to_string(value).unwrap_or_default();
            let json = json.get(1..json.len().saturating_sub(1)).unwrap_or("");
            let url = crate::template::resolve::encode_url_value(value, true);
            for form in [value, json, url.as_str()] {
                if !form.is_empty() && !self.patterns.iter().any(|p| p.expose_secret() == form) {
                    self.patterns.push(SecretString::from(form.to_owned()));
                }
            }
        }
        self.patterns
            .sort_by_key(|p| std::cmp::Reverse(p.expose_secret().len()));
    }

    /// Whether there is any value to redact.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every occurrence of a secret replaced by `[REDACTED]`.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.patterns.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::new();
        let mut copied = 0; // text[..copied] is already in `out`
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            let hit = self
                .patterns
                .iter()
                .map(|p| p.expose_secret())
                .find(|p| rest.starts_with(p));
            match hit {
                Some(p) => {
                    out.push_str(&text[copied..i]);
                    out.push_str(REDACTED);
                    i += p.len();
                    copied = i;
                }
                None => i += rest.chars().next().map_or(1, char::len_utf8),
            }
        }
        if copied == 0 && out.is_empty() {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }

    /// A header value as it may be shown: `[REDACTED]` for sensitive names, otherwise
    /// with secret values redacted.
    pub fn redact_header(&self, name: &str, value: &str) -> String {
        if is_sensitive_name(name) {
            REDACTED.to_owned()
        } else {
            self.redact(value).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(values: &[&str]) -> Redactor {
        let secrets: Vec<SecretString> = values.iter().map(|v| SecretString::from(*v)).collect();
        Redactor::new(&secrets)
    }

    #[test]
    fn every_occurrence_is_replaced_and_longer_secrets_win() {
        let red = r(&["abcd", "abcdef"]);
        assert_eq!(
            red.redact("x abcdef y abcd z abcdabcd"),
            "x [REDACTED] y [REDACTED] z [REDACTED][REDACTED]"
        );
    }

    #[test]
    fn short_values_are_not_redacted_by_value() {
        let red = r(&["on", "abc"]);
        assert!(red.is_empty());
        assert_eq!(red.redact("on abc"), "on abc");
    }

    #[test]
    fn json_escaped_and_percent_encoded_forms_are_redacted() {
        let red = r(&["p\"a/ss w"]);
        assert_eq!(
            red.redact(r#"{"echo":"p\"a/ss w"}"#),
            r#"{"echo":"[REDACTED]"}"#
        );
        assert_eq!(red.redact("q=p%22a/ss%20w"), "q=[REDACTED]");
    }

    #[test]
    fn sensitive_headers_are_redacted_by_name() {
        let red = Redactor::default();
        // The names themselves are warden_core::redact's (and tested there).
        for name in ["Authorization", "Set-Cookie", "X-API-Key"] {
            assert_eq!(red.redact_header(name, "anything"), REDACTED, "{name}");
        }
        assert_eq!(
            red.redact_header("Content-Type", "application/json"),
            "application/json"
        );
    }

    #[test]
    fn multibyte_text_is_scanned_safely() {
        let red = r(&["clé-secrète"]);
        assert_eq!(red.redact("é clé-secrète ü"), "é [REDACTED] ü");
    }
}
