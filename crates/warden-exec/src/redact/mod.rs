//! Redaction: the hook the executor applies to what it records, and the [`Redactor`]
//! that replaces secret values and sensitive header values with `[REDACTED]`. Which
//! names are sensitive is [`warden_core::redact`]'s one list, shared with the API.

mod values;

pub use values::{MIN_SECRET_CHARS, Redactor};
pub use warden_core::redact::{REDACTED, is_sensitive_name};

/// Rewrites text that is about to be stored or shown, replacing secret values (for example with
/// `[REDACTED]`).
///
/// The HTTP executor applies it to the body excerpt, to every recorded header value and to every
/// error message before they leave [`crate::http::HttpClient::execute`]. Any
/// `Fn(&str) -> String + Send + Sync` closure is a `Redact`.
pub trait Redact: Send + Sync {
    /// Returns `text` with every secret value replaced.
    fn redact(&self, text: &str) -> String;
}

impl<F> Redact for F
where
    F: Fn(&str) -> String + Send + Sync,
{
    fn redact(&self, text: &str) -> String {
        self(text)
    }
}

/// Leaves text unchanged: for calls that carry no secrets, and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRedaction;

impl Redact for NoRedaction {
    fn redact(&self, text: &str) -> String {
        text.to_owned()
    }
}

impl Redact for Redactor {
    fn redact(&self, text: &str) -> String {
        Redactor::redact(self, text).into_owned()
    }
}

/// Truncates `s` to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_at_char_boundary(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_are_redactors() {
        let r = |t: &str| t.replace("hunter2", "[REDACTED]");
        let r: &dyn Redact = &r;
        assert_eq!(r.redact("pw=hunter2"), "pw=[REDACTED]");
        assert_eq!(NoRedaction.redact("pw=hunter2"), "pw=hunter2");
    }

    #[test]
    fn truncation_never_splits_a_character() {
        assert_eq!(truncate_at_char_boundary("aé".into(), 2), "a");
        assert_eq!(truncate_at_char_boundary("abc".into(), 5), "abc");
        assert_eq!(truncate_at_char_boundary("€€".into(), 4), "€");
    }
}
