//! [`AuthError`]: why a bearer token was refused, in words safe to send back in a 401.

/// A bearer token was refused.
///
/// Every message is safe to show to the client (it says what was wrong, never echoes the
/// token or a claim value). The API layer maps all variants to `401 Unauthorized`, except
/// [`AuthError::KeySourceUnavailable`], which is the server's fault (`503`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Not a compact JWS (three base64url parts), or a part is not valid JSON.
    #[error("the bearer token is malformed: expected a signed JWT (header.payload.signature)")]
    Malformed,
    /// The header's `alg` is `none`, an HMAC algorithm, unknown, or not configured.
    /// Holds the algorithm name, shortened and reduced to safe characters.
    #[error("the token's signing algorithm `{0}` is not allowed")]
    AlgorithmNotAllowed(String),
    /// No key with the token's `kid` is published by the identity provider (after a
    /// refresh), or the token has no `kid` where one is required.
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    /// The key named by the token is not a key for the token's algorithm (its `kty`,
    /// `alg`, curve or `use` disagree).
    #[error("the token's algorithm does not match its signing key")]
    KeyMismatch,
    /// The signature does not verify: the token was altered or signed by someone else.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the allowed clock skew).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the allowed clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not exactly the configured issuer.
    #[error("the token was issued by an unexpected issuer")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("the token is not meant for this service (audience)")]
    WrongAudience,
    /// A required claim is absent. `"subject"` stands for the configured subject claim.
    #[error("the token lacks the required `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type (e.g. `exp` as a string, roles as a number).
    /// `"subject"`/`"roles"` stand for the configured claims.
    #[error("the token's `{0}` claim has the wrong type")]
    InvalidClaim(&'static str),
    /// The identity provider's keys could not be fetched, so nothing can be verified.
    #[error("the identity provider's signing keys are unavailable; try again later")]
    KeySourceUnavailable,
}

impl AuthError {
    /// Builds [`AuthError::AlgorithmNotAllowed`] from untrusted header text: at most 16
    /// characters of `[A-Za-z0-9_-]` are kept, so the message cannot carry anything else.
    pub(crate) fn algorithm_not_allowed(alg: &str) -> Self {
        let clean: String = alg
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(16)
            .collect();
        AuthError::AlgorithmNotAllowed(clean)
    }

    /// Maps a `jsonwebtoken` failure (after our own header and key checks passed).
    pub(crate) fn from_jwt(err: &jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match err.kind() {
            K::InvalidSignature => AuthError::BadSignature,
            K::ExpiredSignature => AuthError::Expired,
            K::ImmatureSignature => AuthError::NotYetValid,
            K::InvalidIssuer => AuthError::WrongIssuer,
            K::InvalidAudience => AuthError::WrongAudience,
            K::MissingRequiredClaim(c) => AuthError::MissingClaim(claim_name(c)),
            K::InvalidClaimFormat(c) => AuthError::InvalidClaim(claim_name(c)),
            K::InvalidAlgorithm
            | K::UnsupportedAlgorithm
            | K::InvalidKeyFormat
            | K::InvalidEcdsaKey
            | K::InvalidEddsaKey
            | K::InvalidRsaKey(_) => AuthError::KeyMismatch,
            _ => AuthError::Malformed,
        }
    }
}

/// The registered claim names `jsonwebtoken` reports, as `'static` strings.
fn claim_name(name: &str) -> &'static str {
    match name {
        "exp" => "exp",
        "nbf" => "nbf",
        "iss" => "iss",
        "aud" => "aud",
        "sub" => "sub",
        _ => "unknown",
    }
}
