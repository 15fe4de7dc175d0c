//! OIDC/OAuth2 bearer tokens: verify a JWT from the identity provider and say whom it names.
//!
//! # Design
//!
//! ## Model
//! The identity provider signs tokens with private keys and publishes the public halves
//! as a JWKS (or, for simple setups, one static PEM key). [`OidcVerifier::verify`] takes a
//! compact JWS and either returns a [`VerifiedToken`] (subject, roles, issuer) or an
//! [`AuthError`] saying why not. What the roles allow is decided elsewhere.
//!
//! ```text
//! token ─► split + decode header ─► alg in allowlist? ─► key by kid ─► key fits alg?
//!            (Malformed)            (AlgorithmNotAllowed)  (UnknownKey)  (KeyMismatch)
//!       ─► signature ─► exp/nbf (+leeway) ─► iss exact, aud contains ─► subject, roles
//!          (BadSignature) (Expired/NotYetValid) (WrongIssuer/WrongAudience) (Missing/InvalidClaim)
//! ```
//!
//! JWKS cache states: `empty` ─first verify─► `fetching` ─ok─► `loaded` ─unknown kid or
//! older than 1 h─► `fetching` ─ok─► `loaded` (new set) | ─fail─► `loaded` (old set kept).
//! A failed first fetch leaves it `empty`, and requests get `KeySourceUnavailable`.
//!
//! ## Invariants
//! - Only public-key algorithms verify: [`OidcConfig::validate`] refuses HMAC algorithms
//!   in the allowlist, the header's `alg` is checked against the allowlist before any key
//!   is looked at, and the chosen key's type, own `alg` and curve must agree with it. So
//!   `alg: none` and an HMAC token "signed" with the public key's bytes are both refused.
//! - The key comes from the configured source only; header fields such as `jwk`, `jku`
//!   or `x5u` are never followed, and any `crit` header is refused.
//! - `exp` is required and must be a number; `nbf` is checked when present; `iss` must
//!   equal the configured issuer exactly; `aud` must contain the configured audience.
//! - The JWKS is fetched at most once per `jwks_refresh_min_interval`, whatever the
//!   tokens say, so made-up `kid`s cannot turn us into a traffic source against the
//!   provider. Fetches use `https://` (or loopback `http://`), no proxy, no redirects,
//!   a 5 s timeout and a 1 MiB cap.
//! - No error message contains the token or a claim value.
//!
//! ## Failure
//! Provider unreachable on first use: every token is refused with
//! [`AuthError::KeySourceUnavailable`] (the API answers 503) until a fetch succeeds,
//! retried at most once per minimum interval. Unreachable later: the cached keys keep
//! working, and new `kid`s are refused as [`AuthError::UnknownKey`]. A JWKS entry that
//! cannot be used (symmetric, encryption, unknown type, duplicate `kid`) is skipped and
//! logged, not fatal.

mod config;
mod error;
mod jwks;
mod keys;
mod token;

use std::{fmt, str::FromStr, sync::Arc};

use jsonwebtoken::{AlgorithmFamily, Validation};
use serde_json::{Map, Value};

pub use config::{KeySource, MAX_LEEWAY_SECS, OidcConfig};
pub use error::AuthError;
/// The `alg` names accepted in [`OidcConfig::algorithms`].
pub use jsonwebtoken::Algorithm;

use crate::SecurityError;
use jwks::JwksCache;
use keys::VerifyKey;

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The configured subject claim (default `sub`): the principal's id at the provider.
    pub subject: String,
    /// The roles from the configured roles claim; empty when the claim is absent.
    pub roles: Vec<String>,
    /// The token's `iss` (equal to the configured issuer).
    pub issuer: String,
}

/// Verifies bearer tokens against one provider. Cheap to clone (an `Arc` inside); clones
/// share the JWKS cache.
#[derive(Clone)]
pub struct OidcVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: OidcConfig,
    keys: Keys,
    /// Validation settings shared by every token; `algorithms` is set per token.
    validation: Validation,
}

enum Keys {
    Static(Arc<VerifyKey>),
    Jwks(Box<JwksCache>),
}

impl OidcVerifier {
    /// Validates `config` and prepares the key source. Does no network I/O: the JWKS is
    /// fetched on the first [`verify`](Self::verify).
    ///
    /// # Errors
    /// [`SecurityError::Config`] from [`OidcConfig::validate`];
    /// [`SecurityError::HttpClient`] if the HTTP client cannot be built.
    pub fn new(config: OidcConfig) -> Result<Self, SecurityError> {
        config.validate()?;
        let keys = match &config.source {
            KeySource::Jwks { url } => Keys::Jwks(Box::new(JwksCache::new(
                config::jwks_url(url)?,
                config.jwks_refresh_min_interval,
            )?)),
            KeySource::StaticPem { pem } => Keys::Static(Arc::new(VerifyKey::from_pem(pem)?)),
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = config.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_audience(&[&config.audience]);
        validation.set_issuer(&[&config.issuer]);
        // `exp` is required too, but checked after decoding: the library reports an `exp`
        // of the wrong type as missing when it is in this list.
        validation.set_required_spec_claims(&["iss", "aud"]);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                keys,
                validation,
            }),
        })
    }

    /// Verifies a bearer token (the part after `Bearer `) and extracts its identity.
    ///
    /// May fetch the JWKS (see the module's design notes); otherwise CPU only.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed, in the order of the module
    /// diagram.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let config = &self.inner.config;
        let header = token::parse_header(token)?;
        let alg = self.allowed_algorithm(&header.alg)?;
        let key = match &self.inner.keys {
            Keys::Static(key) => Arc::clone(key),
            Keys::Jwks(cache) => {
                // TODO-correctness: some providers omit `kid` when they publish one key;
                // we refuse those tokens rather than guess which key is meant.
                let kid = header.kid.as_deref().filter(|k| !k.is_empty());
                cache.get(kid.ok_or(AuthError::UnknownKey)?).await?
            }
        };
        let decoding_key = key.for_algorithm(alg)?;
        let mut validation = self.inner.validation.clone();
        validation.algorithms = vec![alg];
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, decoding_key, &validation)
            .map_err(|e| AuthError::from_jwt(&e))?;
        let claims = data.claims;
        if !claims.get("exp").is_some_and(Value::is_number) {
            return Err(AuthError::MissingClaim("exp"));
        }
        Ok(VerifiedToken {
            issuer: token::issuer(&claims, &config.issuer)?,
            subject: token::subject(&claims, &config.subject_claim)?,
            roles: token::roles(&claims, &config.roles_claim)?,
        })
    }

    /// The header's `alg`, if it is a known public-key algorithm in the allowlist.
    fn allowed_algorithm(&self, raw: &str) -> Result<Algorithm, AuthError> {
        match Algorithm::from_str(raw) {
            Ok(alg)
                if alg.family() != AlgorithmFamily::Hmac
                    && self.inner.config.algorithms.contains(&alg) =>
            {
                Ok(alg)
            }
            _ => Err(AuthError::algorithm_not_allowed(raw)),
        }
    }

    /// The configuration this verifier was built from.
    pub fn config(&self) -> &OidcConfig {
        &self.inner.config
    }
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("OidcVerifier")
            .field("issuer", &c.issuer)
            .field("audience", &c.audience)
            .field("algorithms", &c.algorithms)
            .finish_non_exhaustive()
    }
}
