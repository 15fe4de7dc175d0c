//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), for the signed HTTP
//! delivery of jobs to an application's endpoint: receivers verify them with the
//! specification's own libraries, in their language.
//!
//! # The scheme
//! - A signing secret is `whsec_` followed by the base64 of 24 to 64 random bytes (the
//!   specification's range); the bytes are the HMAC key.
//! - A request carries `webhook-id` (the same for every attempt of one message, so a
//!   receiver can drop duplicates), `webhook-timestamp` (Unix seconds, when this attempt
//!   was sent) and `webhook-signature`: `v1,` followed by the base64 of
//!   `HMAC-SHA-256(key, "{id}.{timestamp}.{body}")`, once per configured secret, separated
//!   by spaces, so that a receiver holding either the old or the new secret verifies it
//!   while a secret is being rotated.
//! - A receiver accepts a request when one signature matches (compared in constant time)
//!   and the timestamp is within its tolerance of its clock (five minutes in the
//!   specification's libraries), which bounds replays.
//!
//! # Secrets
//! [`SigningSecret`] keeps only the HMAC key; its `Debug` is redacted and no error here
//! repeats a secret or a part of it.

use std::fmt;

use aws_lc_rs::{constant_time, hmac};
use base64::{Engine as _, engine::general_purpose::STANDARD};

use crate::SecurityError;

/// The prefix of a Standard Webhooks signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Fewest key bytes the specification allows (and this module accepts).
pub const MIN_KEY_BYTES: usize = 24;
/// Most key bytes the specification allows.
pub const MAX_KEY_BYTES: usize = 64;
/// The specification's default tolerance between a request's timestamp and the
/// receiver's clock, in seconds.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A signing secret (`whsec_…`), held as its HMAC key.
pub struct SigningSecret {
    key: hmac::Key,
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(redacted)")
    }
}

impl SigningSecret {
    /// Parses `whsec_` + base64 of 24–64 bytes. `field` names the setting in the error
    /// (e.g. `jobTypes.send-email.signingSecret`), which never shows the value.
    ///
    /// # Errors
    /// [`SecurityError::Config`] when the prefix is missing, the rest is not base64, or
    /// the key's length is outside 24–64 bytes.
    pub fn parse(field: &'static str, secret: &str) -> Result<Self, SecurityError> {
        const EXPECTED: &str = "`whsec_` followed by the base64 of 24 to 64 random bytes; \
             generate one with `echo whsec_$(openssl rand -base64 32)`";
        let Some(encoded) = secret.trim().strip_prefix(SECRET_PREFIX) else {
            return Err(SecurityError::config(
                field,
                "the signing secret does not start with `whsec_`",
                EXPECTED,
            ));
        };
        let key = STANDARD.decode(encoded).map_err(|_| {
            SecurityError::config(
                field,
                "the signing secret is not valid base64 after `whsec_`",
                EXPECTED,
            )
        })?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecurityError::config(
                field,
                format!("the signing secret's key is {} bytes long", key.len()),
                EXPECTED,
            ));
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// `v1,` + base64 of `HMAC-SHA-256(key, "{id}.{timestamp}.{body}")`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.tag(id, timestamp, body);
        format!("v1,{}", STANDARD.encode(tag.as_ref()))
    }

    fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        ctx.sign()
    }

    /// Whether one of the `v1` signatures of a `webhook-signature` header value is this
    /// secret's for the message (compared in constant time). Signatures of other versions
    /// are ignored; the timestamp's freshness is the caller's check ([`is_fresh`]).
    pub fn verifies(&self, header: &str, id: &str, timestamp: i64, body: &[u8]) -> bool {
        let expected = self.tag(id, timestamp, body);
        header
            .split_ascii_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|sig| constant_time::verify_slices_are_equal(&sig, expected.as_ref()).is_ok())
    }
}

/// The `webhook-signature` header value: one `v1` signature per secret, separated by
/// spaces (several secrets while one is being rotated).
pub fn signature_header(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a request's `timestamp` is within [`TOLERANCE_SECS`] of `now` (both Unix
/// seconds), either way.
pub fn is_fresh(timestamp: i64, now: i64) -> bool {
    now.abs_diff(timestamp) <= TOLERANCE_SECS.unsigned_abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SigningSecret {
        SigningSecret::parse("signingSecret", s).unwrap()
    }

    /// The example of the specification's reference libraries (their test suites and
    /// README): this secret, id, timestamp and body sign to this value.
    #[test]
    fn the_specifications_example_signs_to_its_published_signature() {
        let s = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let (id, ts, body) = (
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        let signed = s.sign(id, ts, body);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(s.verifies(&signed, id, ts, body));
    }

    #[test]
    fn a_rotated_header_verifies_with_either_secret_and_a_change_with_neither() {
        let old = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let new = secret(&format!("whsec_{}", STANDARD.encode([7u8; 32])));
        let header = signature_header(&[old, new], "msg_1", 1_700_000_000, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        // The second signature, as the `standardwebhooks` package from PyPI (1.x) computes
        // it for the same secret and message.
        assert!(header.ends_with(" v1,nuLLyheCKcS2N8JNOFt5stk98R+umYWr26/ZTfdtGM8="));
        for s in [
            secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            secret(&format!("whsec_{}", STANDARD.encode([7u8; 32]))),
        ] {
            assert!(s.verifies(&header, "msg_1", 1_700_000_000, b"{}"));
            // Another body, id or timestamp: no signature matches.
            assert!(!s.verifies(&header, "msg_1", 1_700_000_000, b"{ }"));
            assert!(!s.verifies(&header, "msg_2", 1_700_000_000, b"{}"));
            assert!(!s.verifies(&header, "msg_1", 1_700_000_001, b"{}"));
        }
        let stranger = secret(&format!("whsec_{}", STANDARD.encode([9u8; 32])));
        assert!(!stranger.verifies(&header, "msg_1", 1_700_000_000, b"{}"));
    }

    #[test]
    fn bad_secrets_are_refused_without_showing_them() {
        let canary = "whsec_c2VjcmV0LWNhbmFyeQ"; // not valid padded base64
        for (bad, why) in [
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "does not start with `whsec_`",
            ),
            (canary, "not valid base64"),
            ("whsec_c2hvcnQ=", "is 5 bytes long"),
        ] {
            let err = SigningSecret::parse("jobTypes.x.signingSecret", bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains("jobTypes.x.signingSecret"), "{err}");
            assert!(err.contains(why), "{err}");
            assert!(!err.contains(bad.trim_start_matches("whsec_")), "{err}");
        }
        let long = format!("whsec_{}", STANDARD.encode([1u8; 65]));
        assert!(SigningSecret::parse("s", &long).is_err());
        assert_eq!(
            format!("{:?}", secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
            "SigningSecret(redacted)"
        );
    }

    proptest::proptest! {
        // Any key the specification allows parses, and what it signs it verifies, for any
        // id, timestamp and body; one flipped body byte no longer verifies.
        #[test]
        fn any_allowed_key_signs_what_it_verifies(
            key in proptest::collection::vec(proptest::num::u8::ANY, MIN_KEY_BYTES..=MAX_KEY_BYTES),
            id in "[a-zA-Z0-9_]{1,40}",
            ts in proptest::num::i64::ANY,
            body in proptest::collection::vec(proptest::num::u8::ANY, 1..200),
            flip in proptest::num::usize::ANY,
        ) {
            let s = secret(&format!("whsec_{}", STANDARD.encode(&key)));
            let header = s.sign(&id, ts, &body);
            proptest::prop_assert!(s.verifies(&header, &id, ts, &body));
            let mut other = body;
            let i = flip % other.len();
            other[i] ^= 1;
            proptest::prop_assert!(!s.verifies(&header, &id, ts, &other));
        }

        // Whatever is given as a secret, parsing answers without panicking, and a refusal
        // never repeats what was given.
        #[test]
        fn parsing_any_text_never_panics_nor_echoes_it(text in "\\PC{8,80}") {
            if let Err(e) = SigningSecret::parse("signingSecret", &text) {
                let shown = e.to_string();
                let given = text.trim().trim_start_matches(SECRET_PREFIX);
                proptest::prop_assert!(given.len() < 8 || !shown.contains(given), "{}", shown);
            }
        }
    }

    #[test]
    fn freshness_allows_five_minutes_either_way() {
        assert!(is_fresh(1_000, 1_000 + TOLERANCE_SECS));
        assert!(is_fresh(1_000 + TOLERANCE_SECS, 1_000));
        assert!(!is_fresh(1_000, 1_001 + TOLERANCE_SECS));
        assert!(!is_fresh(i64::MIN, i64::MAX));
    }
}
