//! Static keys from environment variables (`JOB_SCHEDULER_API_KEY`, `INTERNAL_API_KEY`,
//! `CRON_TOKEN`): refused when short, matched in constant time.
//!
//! The value is not kept: [`StaticKey`] stores its HMAC-SHA-256 under a random key made for
//! that `StaticKey`, and [`StaticKey::matches`] HMACs the presented value the same way and
//! compares the two 32-byte MACs with aws-lc-rs's constant-time comparison. The time
//! therefore depends neither on where the values differ nor on the configured key's
//! length (only, linearly, on the presented value's length, which the caller knows).

use std::fmt;

use aws_lc_rs::{constant_time, hmac, rand::SystemRandom};
use secrecy::{ExposeSecret, SecretString};

use crate::SecurityError;

/// Shortest accepted static key, in characters (`openssl rand -hex 32` gives 64).
pub const MIN_STATIC_KEY_LEN: usize = 32;

/// A static key read from an environment variable, ready to compare against requests.
///
/// `Debug` shows the variable name only.
pub struct StaticKey {
    var_name: &'static str,
    mac_key: hmac::Key,
    expected: hmac::Tag,
}

/// A static key was refused because it is too short to resist guessing.
///
/// The message names the variable, gives the length (never the value) and says how to
/// generate a good key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{var_name}` is too short: {len} characters, at least {min} are required; \
     generate one with `openssl rand -hex 32`",
    min = MIN_STATIC_KEY_LEN
)]
#[non_exhaustive]
pub struct WeakKeyError {
    /// The environment variable that held the key.
    pub var_name: &'static str,
    /// The key's length in characters.
    pub len: usize,
}

impl StaticKey {
    /// Accepts `value` (read from the variable `var_name`) if it has at least
    /// [`MIN_STATIC_KEY_LEN`] characters.
    ///
    /// # Errors
    /// [`WeakKeyError`] if the value is shorter.
    ///
    /// # Panics
    /// If the operating system's random number generator fails.
    pub fn new(var_name: &'static str, value: SecretString) -> Result<StaticKey, WeakKeyError> {
        let secret = value.expose_secret();
        let len = secret.chars().count();
        if len < MIN_STATIC_KEY_LEN {
            return Err(WeakKeyError { var_name, len });
        }
        let mac_key = random_mac_key()
            .expect("the system random number generator failed while loading a static key");
        let expected = hmac::sign(&mac_key, secret.as_bytes());
        Ok(StaticKey {
            var_name,
            mac_key,
            expected,
        })
    }

    /// Whether `presented` equals the configured key, in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let got = hmac::sign(&self.mac_key, presented.as_bytes());
        constant_time::verify_slices_are_equal(got.as_ref(), self.expected.as_ref()).is_ok()
    }

    /// The environment variable this key came from (for logs and audit records).
    pub fn var_name(&self) -> &'static str {
        self.var_name
    }
}

impl fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKey")
            .field("var_name", &self.var_name)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

fn random_mac_key() -> Result<hmac::Key, SecurityError> {
    hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new()).map_err(|_| SecurityError::Random)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "4f1c0d9e8b7a69584736251403f2e1d0c9b8a79685746352413f2e1d0c9b8a7f";

    fn key(value: &str) -> Result<StaticKey, WeakKeyError> {
        StaticKey::new("INTERNAL_API_KEY", SecretString::from(value))
    }

    #[test]
    fn short_key_is_refused_with_a_fix_and_without_its_value() {
        let value = "hunter2-not-long-enough";
        let err = key(value).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("INTERNAL_API_KEY"), "{msg}");
        assert!(msg.contains("too short"), "{msg}");
        assert!(msg.contains("23 characters"), "{msg}");
        assert!(msg.contains("openssl rand -hex 32"), "{msg}");
        assert!(!msg.contains(value), "{msg}");
        assert!(!format!("{err:?}").contains(value));
    }

    #[test]
    fn empty_key_is_refused() {
        assert_eq!(key("").unwrap_err().len, 0);
    }

    #[test]
    fn key_of_exactly_the_minimum_length_is_accepted() {
        assert!(key(&"k".repeat(MIN_STATIC_KEY_LEN)).is_ok());
        assert!(key(&"k".repeat(MIN_STATIC_KEY_LEN - 1)).is_err());
    }

    #[test]
    fn matches_only_the_exact_value() {
        let k = key(GOOD).unwrap();
        assert!(k.matches(GOOD));
        assert!(!k.matches(""));
        assert!(!k.matches(&GOOD[..63]));
        assert!(!k.matches(&format!("{GOOD}0")));
        assert!(!k.matches(&GOOD.to_uppercase()));
    }

    #[test]
    fn debug_output_never_contains_the_value() {
        let k = key(GOOD).unwrap();
        let printed = format!("{k:?}");
        assert!(printed.contains("INTERNAL_API_KEY"));
        assert!(!printed.contains(&GOOD[..16]));
    }
}
