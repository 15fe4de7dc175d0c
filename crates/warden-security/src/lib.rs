//! Warden's credential checks: API keys, static keys from the environment, OIDC bearer tokens.
//!
//! This crate answers "is this credential genuine, and whom does it name?". It does not
//! decide what the caller may do: that is [`warden_core`]'s role table, applied by the API
//! layer to the identity returned here.
//!
//! # Layout
//! - [`apikey`]: generating API keys (`wdn_` + 64 hex), hashing them with a server secret
//!   (HMAC-SHA-256) for storage and lookup, comparing hashes in constant time.
//! - [`envkey`]: static keys read from environment variables (`JOB_SCHEDULER_API_KEY`,
//!   `INTERNAL_API_KEY`, `CRON_TOKEN`): a minimum length and a constant-time match.
//! - [`oidc`]: validating OIDC/OAuth2 bearer JWTs against a JWKS (fetched and cached) or a
//!   static PEM key, with an algorithm allowlist that admits public-key algorithms only.
//! - [`webhook`]: Standard Webhooks signatures (`whsec_…` secrets, `v1,` HMAC-SHA-256
//!   signatures, rotation, freshness) for signed HTTP delivery of jobs.
//! - [`error`]: [`SecurityError`], the start-up/configuration error of this crate.
//!
//! # Secrets
//! No type here prints a key, a secret or a token: secrets are held as
//! [`secrecy::SecretString`] or only as keyed hashes, `Debug` output is redacted, and error
//! messages describe the problem (length, algorithm, claim) without the value.
//!
//! Cryptography is aws-lc-rs throughout (HMAC, random numbers, JWT signatures, and TLS for
//! the JWKS fetch); `ring` is not in the dependency graph.

pub mod apikey;
pub mod envkey;
pub mod error;
pub mod oidc;
pub mod webhook;

pub use error::SecurityError;
