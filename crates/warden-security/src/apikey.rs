//! API keys: generation (`wdn_` + 64 hex), keyed hashing for storage, constant-time compare.
//!
//! Keys are 256-bit machine-generated secrets, so a fast keyed hash is enough: the store
//! keeps `HMAC-SHA-256(server_secret, key)` and looks it up by index. Without the server
//! secret a leaked table cannot be used to test guesses offline. The plaintext key is
//! shown once, at creation, and never stored or logged.

use std::fmt;

use aws_lc_rs::{constant_time, hmac, rand::SecureRandom, rand::SystemRandom};
use secrecy::SecretString;

use crate::SecurityError;

/// Every Warden API key starts with this.
pub const KEY_PREFIX: &str = "wdn_";
/// Random bytes in a key (256 bits), written as twice as many hex digits.
const KEY_RANDOM_BYTES: usize = 32;
/// Total length of a key: the prefix plus 64 hex digits.
pub const KEY_LEN: usize = KEY_PREFIX.len() + 2 * KEY_RANDOM_BYTES;
/// Length of [`NewApiKey::display_prefix`]: `wdn_` plus 8 hex digits.
pub const DISPLAY_PREFIX_LEN: usize = KEY_PREFIX.len() + 8;
/// Shortest accepted server secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// A freshly generated key: show `secret` to its owner once, store only its hash.
///
/// `Debug` prints the display prefix and a redacted secret.
#[derive(Debug)]
pub struct NewApiKey {
    /// The whole key, `wdn_` followed by 64 lowercase hex digits.
    pub secret: SecretString,
    /// The first 12 characters (`wdn_` + 8 hex), safe to list so owners can tell keys apart.
    pub display_prefix: String,
}

/// Generates a new API key from 32 bytes of the system random number generator.
///
/// # Panics
/// If the operating system's random number generator fails, which leaves no safe way to
/// make a key.
pub fn generate_key() -> NewApiKey {
    let mut bytes = [0u8; KEY_RANDOM_BYTES];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator failed");
    let mut key = String::with_capacity(KEY_LEN);
    key.push_str(KEY_PREFIX);
    push_hex(&mut key, &bytes);
    bytes.fill(0);
    let display_prefix = key[..DISPLAY_PREFIX_LEN].to_owned();
    NewApiKey {
        secret: SecretString::from(key),
        display_prefix,
    }
}

/// A new server secret for [`KeyHasher`]: 32 bytes from the system random number
/// generator, as 64 hex digits.
///
/// # Panics
/// If the operating system's random number generator fails.
pub fn generate_server_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator failed");
    let mut hex = String::with_capacity(64);
    push_hex(&mut hex, &bytes);
    bytes.fill(0);
    SecretString::from(hex)
}

/// Whether `s` has the shape of a Warden API key (`wdn_` + 64 lowercase hex digits).
///
/// A cheap syntactic check, used to route a presented credential to the right checker
/// (and to spot keys in places they should not be); it says nothing about validity.
pub fn looks_like_api_key(s: &str) -> bool {
    s.len() == KEY_LEN
        && s.starts_with(KEY_PREFIX)
        && s.as_bytes()[KEY_PREFIX.len()..]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Hashes presented keys with the server secret (HMAC-SHA-256).
///
/// `Debug` never shows the secret.
pub struct KeyHasher {
    key: hmac::Key,
}

impl KeyHasher {
    /// Builds a hasher from the server secret (the "pepper").
    ///
    /// # Errors
    /// [`SecurityError::Config`] if `secret` is shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &[u8]) -> Result<Self, SecurityError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecurityError::config(
                "apiKeySecret",
                format!("the server secret is {} bytes long", secret.len()),
                format!(
                    "at least {MIN_SECRET_LEN} random bytes; generate one with `openssl rand -hex 32`"
                ),
            ));
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        })
    }

    /// `HMAC-SHA-256(secret, presented)`. Any string is accepted; a key that does not
    /// [look like a key](looks_like_api_key) simply matches nothing.
    pub fn hash(&self, presented: &str) -> KeyHash {
        let tag = hmac::sign(&self.key, presented.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        KeyHash(out)
    }

    /// A value that tells whether two processes hold the same server secret without
    /// revealing it: `HMAC-SHA-256(secret, CHECK_LABEL)`. The label does not look like a
    /// key, so no presented key's hash can equal it.
    pub fn check_value(&self) -> KeyHash {
        self.hash(CHECK_LABEL)
    }
}

/// The fixed label of [`KeyHasher::check_value`].
const CHECK_LABEL: &str = "warden server secret check, v1";

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyHasher")
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// The stored form of an API key: its HMAC-SHA-256 under the server secret.
///
/// There is deliberately no `PartialEq`: compare with [`KeyHash::ct_eq`].
#[derive(Clone, Copy)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// Wraps raw hash bytes (as read from the store).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        push_hex(&mut out, &self.0);
        out
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// [`SecurityError::Config`] naming `keyHash` if the length or a digit is wrong.
    pub fn from_hex(s: &str) -> Result<Self, SecurityError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(SecurityError::config(
                "keyHash",
                format!("{} characters long", bytes.len()),
                "64 hex digits",
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            match (hex_value(pair[0]), hex_value(pair[1])) {
                (Some(hi), Some(lo)) => out[i] = (hi << 4) | lo,
                _ => {
                    return Err(SecurityError::config(
                        "keyHash",
                        "contains a character that is not a hex digit",
                        "64 hex digits",
                    ));
                }
            }
        }
        Ok(Self(out))
    }

    /// Equality in constant time (the time does not depend on where the hashes differ).
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl fmt::Debug for KeyHash {
    /// Shows the first 8 hex digits: enough to tell hashes apart in a log, not a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({}…)", &self.to_hex()[..8])
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const SECRET_A: &[u8] = b"0123456789abcdef0123456789abcdef";
    const SECRET_B: &[u8] = b"fedcba9876543210fedcba9876543210";

    #[test]
    fn generated_keys_have_the_documented_format() {
        let key = generate_key();
        let s = key.secret.expose_secret();
        assert_eq!(s.len(), 68);
        assert!(s.starts_with("wdn_"));
        assert!(
            s[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(key.display_prefix, s[..12]);
        assert!(looks_like_api_key(s));
    }

    #[test]
    fn generated_keys_differ() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a.secret.expose_secret(), b.secret.expose_secret());
    }

    #[test]
    fn debug_output_never_contains_the_key() {
        let key = generate_key();
        let printed = format!("{key:?}");
        assert!(!printed.contains(key.secret.expose_secret()));
        assert!(!printed.contains(&key.secret.expose_secret()[12..20]));
        let hasher = KeyHasher::new(SECRET_A).unwrap();
        assert!(!format!("{hasher:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn looks_like_api_key_refuses_near_misses() {
        let good = format!("wdn_{}", "a".repeat(64));
        assert!(looks_like_api_key(&good));
        assert!(!looks_like_api_key(&format!("wdn_{}", "A".repeat(64))));
        assert!(!looks_like_api_key(&format!("wdx_{}", "a".repeat(64))));
        assert!(!looks_like_api_key(&format!("wdn_{}", "a".repeat(63))));
        assert!(!looks_like_api_key(&format!("wdn_{}", "a".repeat(65))));
        assert!(!looks_like_api_key(&format!("wdn_{}g", "a".repeat(63))));
        assert!(!looks_like_api_key(""));
    }

    #[test]
    fn short_server_secret_is_refused_without_echoing_it() {
        let err = KeyHasher::new(b"too-short-secret").unwrap_err().to_string();
        assert!(err.contains("16 bytes"), "{err}");
        assert!(err.contains("openssl rand -hex 32"), "{err}");
        assert!(!err.contains("too-short-secret"), "{err}");
    }

    #[test]
    fn hash_is_stable_for_one_secret_and_differs_across_secrets() {
        let a = KeyHasher::new(SECRET_A).unwrap();
        let a2 = KeyHasher::new(SECRET_A).unwrap();
        let b = KeyHasher::new(SECRET_B).unwrap();
        let key = "wdn_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(a.hash(key).ct_eq(&a2.hash(key)));
        assert_eq!(a.hash(key).to_hex(), a2.hash(key).to_hex());
        assert!(!a.hash(key).ct_eq(&b.hash(key)));
        assert!(!a.hash(key).ct_eq(&a.hash("wdn_other")));
    }

    #[test]
    fn hash_matches_a_known_hmac_sha256_vector() {
        // RFC 4231 case 1's message with a 32-byte key (its 20-byte key is too short
        // here); expected value from `openssl dgst -sha256 -mac HMAC -macopt hexkey:0b…`.
        let hasher = KeyHasher::new(&[0x0b; 32]).unwrap();
        assert_eq!(
            hasher.hash("Hi There").to_hex(),
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let hash = KeyHasher::new(SECRET_A).unwrap().hash("x");
        let hex = hash.to_hex();
        assert!(KeyHash::from_hex(&hex).unwrap().ct_eq(&hash));
        assert!(KeyHash::from_hex(&hex.to_uppercase()).unwrap().ct_eq(&hash));
        assert!(KeyHash::from_hex(&hex[..62]).is_err());
        assert!(KeyHash::from_hex(&format!("{}zz", &hex[..62])).is_err());
    }
}
