//! Tokens that must be refused: forged algorithms, bad keys, bad claims, bad signatures.

use jsonwebtoken::Algorithm;
use serde_json::json;
use warden_security::oidc::{AuthError, KeySource, OidcConfig, OidcVerifier};

use crate::support::{
    AUDIENCE, ISSUER, JwksServer, TestKey, b64, claims, hs256_token, jwks_config, now, rsa_key,
    signing_input, verifier,
};

/// A JWKS verifier for the shared RSA key and one EC key, plus its server.
async fn setup() -> (OidcVerifier, JwksServer, TestKey) {
    let ec = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![rsa_key().jwk(), ec.jwk()]).await;
    (verifier(jwks_config(&server.url)), server, ec)
}

#[tokio::test]
async fn alg_none_is_refused_before_any_key_is_fetched() {
    let (v, server, _) = setup().await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "kid": "rsa-1", "typ": "JWT"});
        let token = format!("{}.", signing_input(&header, &claims()));
        let err = v.verify(&token).await.unwrap_err();
        assert_eq!(err, AuthError::AlgorithmNotAllowed(alg.into()));
    }
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_bytes_is_refused() {
    let (v, server, _) = setup().await;
    let key = rsa_key();
    let secrets = [
        key.public_pem().into_bytes(),
        key.public_der(),
        key.rsa_modulus(),
        b64(&key.rsa_modulus()).into_bytes(),
        key.jwk().to_string().into_bytes(),
    ];
    for secret in &secrets {
        let token = hs256_token("rsa-1", &claims(), secret);
        let err = v.verify(&token).await.unwrap_err();
        assert_eq!(err, AuthError::AlgorithmNotAllowed("HS256".into()));
    }
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn hs256_signed_with_a_static_pem_is_refused() {
    let key = rsa_key();
    let pem = key.public_pem();
    let v = verifier(OidcConfig::new(
        ISSUER,
        AUDIENCE,
        KeySource::StaticPem { pem: pem.clone() },
    ));
    let err = v
        .verify(&hs256_token("any", &claims(), pem.as_bytes()))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::AlgorithmNotAllowed("HS256".into()));
}

#[tokio::test]
async fn algorithm_outside_the_allowlist_is_refused() {
    let (v, _server, _) = setup().await;
    let header = json!({"alg": "RS384", "kid": "rsa-1"});
    let err = v
        .verify(&rsa_key().token_with_header(&header, &claims()))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::AlgorithmNotAllowed("RS384".into()));
}

#[tokio::test]
async fn token_alg_must_match_the_jwk() {
    let (_, server, ec) = setup().await;
    let mut config = jwks_config(&server.url);
    config.algorithms.push(Algorithm::RS384);
    let v = verifier(config);
    // ES256 header naming the RSA key's kid.
    let header = json!({"alg": "ES256", "kid": "rsa-1"});
    let err = v
        .verify(&ec.token_with_header(&header, &claims()))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::KeyMismatch);
    // RS384 is allowed, but the JWK says `alg: RS256`.
    let header = json!({"alg": "RS384", "kid": "rsa-1"});
    let err = v
        .verify(&rsa_key().token_with_header(&header, &claims()))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::KeyMismatch);
}

#[tokio::test]
async fn token_without_kid_is_refused_for_a_jwks_source() {
    let (v, _server, ec) = setup().await;
    let header = json!({"alg": "ES256"});
    let err = v
        .verify(&ec.token_with_header(&header, &claims()))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::UnknownKey);
}

/// Verifies an ES256 token with `change` applied to valid claims.
async fn refused(change: impl FnOnce(&mut serde_json::Value)) -> AuthError {
    let (v, _server, ec) = setup().await;
    let mut c = claims();
    change(&mut c);
    v.verify(&ec.token(&c)).await.unwrap_err()
}

#[tokio::test]
async fn expired_token_is_refused() {
    let err = refused(|c| c["exp"] = json!(now() - 3600)).await;
    assert_eq!(err, AuthError::Expired);
}

#[tokio::test]
async fn token_expired_within_the_leeway_is_accepted() {
    let (v, _server, ec) = setup().await;
    let mut c = claims();
    c["exp"] = json!(now() - 5);
    assert!(v.verify(&ec.token(&c)).await.is_ok());
}

#[tokio::test]
async fn token_not_yet_valid_is_refused() {
    let err = refused(|c| c["nbf"] = json!(now() + 3600)).await;
    assert_eq!(err, AuthError::NotYetValid);
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    assert_eq!(
        refused(|c| c["aud"] = json!("someone-else")).await,
        AuthError::WrongAudience
    );
    assert_eq!(
        refused(|c| c["aud"] = json!(["a", "b"])).await,
        AuthError::WrongAudience
    );
    assert_eq!(
        refused(|c| {
            c.as_object_mut().unwrap().remove("aud");
        })
        .await,
        AuthError::MissingClaim("aud")
    );
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    assert_eq!(
        refused(|c| c["iss"] = json!("https://evil.test")).await,
        AuthError::WrongIssuer
    );
    let with_slash = format!("{ISSUER}/");
    assert_eq!(
        refused(|c| c["iss"] = json!(with_slash)).await,
        AuthError::WrongIssuer
    );
    assert_eq!(
        refused(|c| c["iss"] = json!([ISSUER, "https://evil.test"])).await,
        AuthError::WrongIssuer
    );
}

#[tokio::test]
async fn exp_or_nbf_of_the_wrong_type_is_refused() {
    let far = (now() + 600).to_string();
    assert_eq!(
        refused(|c| c["exp"] = json!(far)).await,
        AuthError::InvalidClaim("exp")
    );
    assert_eq!(
        refused(|c| c["nbf"] = json!("0")).await,
        AuthError::InvalidClaim("nbf")
    );
}

#[tokio::test]
async fn missing_exp_is_refused() {
    let err = refused(|c| {
        c.as_object_mut().unwrap().remove("exp");
    })
    .await;
    assert_eq!(err, AuthError::MissingClaim("exp"));
}

#[tokio::test]
async fn missing_subject_is_refused() {
    let err = refused(|c| {
        c.as_object_mut().unwrap().remove("sub");
    })
    .await;
    assert_eq!(err, AuthError::MissingClaim("subject"));
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let (v, _server, ec) = setup().await;
    for key in [rsa_key(), &ec] {
        let token = key.token(&claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims();
        forged["roles"] = json!(["admin"]);
        let payload = b64(forged.to_string().as_bytes());
        parts[1] = &payload;
        let err = v.verify(&parts.join(".")).await.unwrap_err();
        assert_eq!(err, AuthError::BadSignature, "{}", key.alg());
    }
}

#[tokio::test]
async fn token_signed_by_an_unpublished_key_with_a_known_kid_is_refused() {
    let (v, _server, _) = setup().await;
    let impostor = TestKey::ec("ec-1");
    let err = v.verify(&impostor.token(&claims())).await.unwrap_err();
    assert_eq!(err, AuthError::BadSignature);
}

#[tokio::test]
async fn error_messages_never_contain_the_token() {
    let (v, _server, ec) = setup().await;
    let mut c = claims();
    c["exp"] = json!(now() - 3600);
    let token = ec.token(&c);
    let err = v.verify(&token).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    for part in token.split('.') {
        assert!(!shown.contains(part), "{shown}");
    }
}
