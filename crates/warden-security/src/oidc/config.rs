//! [`OidcConfig`]: which issuer, audience, keys and algorithms a bearer token must match.

use std::{net::IpAddr, time::Duration};

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use reqwest::Url;

use crate::SecurityError;

/// Largest accepted clock-skew allowance: a larger one silently extends every token's life.
pub const MAX_LEEWAY_SECS: u64 = 300;

/// Where the identity provider's public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// A JWKS document (`jwks_uri` of the provider's discovery document), fetched on first
    /// use and cached; refetched when a token names an unknown `kid`. Must be `https://`,
    /// except for a loopback host (`127.0.0.0/8`, `::1`, `localhost`).
    Jwks { url: String },
    /// One public key in PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`), used for every
    /// token whatever its `kid`. For providers without a JWKS, and for tests.
    StaticPem { pem: String },
}

/// What a bearer token must match to be accepted. Build with [`OidcConfig::new`], adjust
/// fields, then hand it to [`super::OidcVerifier::new`], which calls [`OidcConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// Expected `iss`, compared exactly (no trailing-slash normalisation).
    pub issuer: String,
    /// A value `aud` must contain (string or array).
    pub audience: String,
    /// Where the verification keys come from.
    pub source: KeySource,
    /// Accepted header `alg` values. Default `[RS256, ES256]`. Public-key algorithms only.
    pub algorithms: Vec<Algorithm>,
    /// The claim holding roles. Default `"roles"`. A dotted path (`realm_access.roles`)
    /// walks nested objects when no top-level claim has the literal name. The value is an
    /// array of strings or one string of space-separated roles; absent means no roles.
    pub roles_claim: String,
    /// The claim naming the principal. Default `"sub"`. Must be a non-empty string.
    pub subject_claim: String,
    /// Allowed clock skew for `exp` and `nbf`, in seconds. Default 30, at most 300.
    pub leeway_secs: u64,
    /// Least time between two JWKS fetches (refreshes on an unknown `kid` included), so a
    /// flood of tokens with made-up `kid`s cannot make us flood the provider. Default 30 s.
    pub jwks_refresh_min_interval: Duration,
}

impl OidcConfig {
    /// A configuration with the defaults documented on each field.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, source: KeySource) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            source,
            algorithms: vec![Algorithm::RS256, Algorithm::ES256],
            roles_claim: "roles".to_owned(),
            subject_claim: "sub".to_owned(),
            leeway_secs: 30,
            jwks_refresh_min_interval: Duration::from_secs(30),
        }
    }

    /// Checks the configuration; run at start-up.
    ///
    /// # Errors
    /// [`SecurityError::Config`] naming the field when: the issuer or audience is empty;
    /// the algorithm list is empty or holds an HMAC algorithm (`HS256/384/512`); a claim
    /// name is empty; the leeway exceeds [`MAX_LEEWAY_SECS`]; the JWKS URL is not
    /// `https://` (or `http://` to a loopback host); the static PEM is not a public key.
    pub fn validate(&self) -> Result<(), SecurityError> {
        if self.issuer.trim().is_empty() {
            return Err(SecurityError::config(
                "oidc.issuer",
                "is empty",
                "the identity provider's issuer URL, exactly as it appears in `iss`",
            ));
        }
        if self.audience.trim().is_empty() {
            return Err(SecurityError::config(
                "oidc.audience",
                "is empty",
                "the audience (client id) that tokens for Warden carry in `aud`",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(SecurityError::config(
                "oidc.algorithms",
                "is empty, so no token could ever be accepted",
                "one or more of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA",
            ));
        }
        if let Some(alg) = self
            .algorithms
            .iter()
            .find(|a| a.family() == AlgorithmFamily::Hmac)
        {
            return Err(SecurityError::config(
                "oidc.algorithms",
                format!(
                    "contains {alg:?}, an HMAC algorithm; Warden verifies tokens only with the \
                     provider's public keys, and allowing HMAC would let anyone who knows a \
                     public key forge tokens (algorithm confusion) or require sharing a secret"
                ),
                "public-key algorithms only: RS256, RS384, RS512, PS256, PS384, PS512, ES256, \
                 ES384, EdDSA",
            ));
        }
        for (field, value) in [
            ("oidc.rolesClaim", &self.roles_claim),
            ("oidc.subjectClaim", &self.subject_claim),
        ] {
            if value.is_empty() || value.split('.').any(str::is_empty) {
                return Err(SecurityError::config(
                    field,
                    "is empty or has an empty path segment",
                    "a claim name or dotted path such as `realm_access.roles`",
                ));
            }
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(SecurityError::config(
                "oidc.leewaySecs",
                format!("is {} seconds", self.leeway_secs),
                format!("at most {MAX_LEEWAY_SECS} seconds of clock skew"),
            ));
        }
        match &self.source {
            KeySource::Jwks { url } => {
                jwks_url(url)?;
            }
            KeySource::StaticPem { pem } => {
                super::keys::VerifyKey::from_pem(pem)?;
            }
        }
        Ok(())
    }
}

/// Parses a JWKS URL, allowing `https://`, or `http://` only to a loopback host.
pub(crate) fn jwks_url(url: &str) -> Result<Url, SecurityError> {
    const FIELD: &str = "oidc.jwksUrl";
    let parsed = Url::parse(url).map_err(|e| {
        SecurityError::config(FIELD, format!("is not a URL ({e})"), "an https:// URL")
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        other => {
            return Err(SecurityError::config(
                FIELD,
                format!("uses `{other}://`"),
                "an https:// URL (http:// only for a loopback host such as 127.0.0.1)",
            ));
        }
    }
    if parsed.host().is_none() {
        return Err(SecurityError::config(
            FIELD,
            "has no host",
            "an https:// URL",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SecurityError::config(
            FIELD,
            "contains credentials",
            "a URL without user:password@",
        ));
    }
    Ok(parsed)
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical().is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwks(url: &str) -> OidcConfig {
        OidcConfig::new(
            "https://idp.example",
            "warden",
            KeySource::Jwks { url: url.into() },
        )
    }

    #[test]
    fn defaults_validate() {
        jwks("https://idp.example/jwks").validate().unwrap();
    }

    #[test]
    fn hmac_algorithms_are_refused_with_the_reason() {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut c = jwks("https://idp.example/jwks");
            c.algorithms.push(alg);
            let msg = c.validate().unwrap_err().to_string();
            assert!(msg.contains("public key"), "{msg}");
            assert!(msg.contains("oidc.algorithms"), "{msg}");
        }
    }

    #[test]
    fn empty_issuer_audience_and_algorithms_are_refused() {
        let mut c = jwks("https://idp.example/jwks");
        c.issuer = " ".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("oidc.issuer")
        );
        let mut c = jwks("https://idp.example/jwks");
        c.audience = String::new();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("oidc.audience")
        );
        let mut c = jwks("https://idp.example/jwks");
        c.algorithms.clear();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("oidc.algorithms")
        );
    }

    #[test]
    fn jwks_url_must_be_https_unless_loopback() {
        assert!(jwks("http://idp.example/jwks").validate().is_err());
        assert!(jwks("file:///etc/passwd").validate().is_err());
        assert!(jwks("https://user:pw@idp.example/jwks").validate().is_err());
        assert!(jwks("not a url").validate().is_err());
        jwks("http://127.0.0.1:8080/jwks").validate().unwrap();
        jwks("http://[::1]:8080/jwks").validate().unwrap();
        jwks("http://localhost/jwks").validate().unwrap();
    }

    #[test]
    fn bad_claim_paths_and_large_leeway_are_refused() {
        let mut c = jwks("https://idp.example/jwks");
        c.roles_claim = "realm_access..roles".into();
        assert!(c.validate().is_err());
        let mut c = jwks("https://idp.example/jwks");
        c.leeway_secs = 3600;
        assert!(c.validate().is_err());
    }

    #[test]
    fn static_pem_must_be_a_public_key() {
        let c = OidcConfig::new(
            "https://idp.example",
            "warden",
            KeySource::StaticPem {
                pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into(),
            },
        );
        assert!(c.validate().is_err());
    }
}
