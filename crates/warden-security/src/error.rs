//! [`SecurityError`]: what can go wrong while building this crate's checkers at start-up.
//!
//! Request-time failures have their own types: [`crate::oidc::AuthError`] for bearer
//! tokens (safe to show in a 401), and a plain `false` for API-key and static-key matches.

use warden_core::ParseError;

/// A checker could not be built: bad configuration, or the crypto library failed.
///
/// Raised at start-up, so the process refuses to run with a weak or broken setup. No
/// variant carries a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityError {
    /// A configuration value was refused; the message names the field and the fix.
    #[error(transparent)]
    Config(#[from] ParseError),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The HTTP client for the JWKS fetch could not be built (TLS roots, resolver).
    #[error("could not build the HTTP client for fetching the JWKS")]
    HttpClient(#[source] reqwest::Error),
}

impl SecurityError {
    pub(crate) fn config(
        field: &'static str,
        problem: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        SecurityError::Config(ParseError::new(field, problem, expected))
    }
}
