//! OIDC verification that succeeds, and the JWKS fetch/cache behaviour, against a real
//! JWKS server on 127.0.0.1.

use std::time::Duration;

use serde_json::json;
use warden_security::oidc::{AuthError, KeySource, OidcConfig, VerifiedToken};

use crate::support::{
    AUDIENCE, ISSUER, JwksServer, NEVER, TestKey, claims, jwks_config, rsa_key, verifier,
};

#[tokio::test]
async fn valid_rs256_token_is_accepted_with_its_roles() {
    let key = rsa_key();
    let server = JwksServer::start(vec![key.jwk()]).await;
    let v = verifier(jwks_config(&server.url));
    let got = v.verify(&key.token(&claims())).await.unwrap();
    assert_eq!(
        got,
        VerifiedToken {
            subject: "user-42".into(),
            roles: vec!["scheduler".into(), "viewer".into()],
            issuer: ISSUER.into(),
        }
    );
}

#[tokio::test]
async fn valid_es256_token_is_accepted_with_its_roles() {
    let key = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![rsa_key().jwk(), key.jwk()]).await;
    let v = verifier(jwks_config(&server.url));
    let got = v.verify(&key.token(&claims())).await.unwrap();
    assert_eq!(got.subject, "user-42");
    assert_eq!(got.roles, ["scheduler", "viewer"]);
}

#[tokio::test]
async fn roles_are_read_from_a_dotted_claim_path_and_a_custom_subject() {
    let key = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![key.jwk()]).await;
    let mut config = jwks_config(&server.url);
    config.roles_claim = "realm_access.roles".into();
    config.subject_claim = "preferred_username".into();
    let v = verifier(config);
    let mut c = claims();
    c["realm_access"] = json!({"roles": ["admin"]});
    c["preferred_username"] = json!("alice");
    let got = v.verify(&key.token(&c)).await.unwrap();
    assert_eq!(got.roles, ["admin"]);
    assert_eq!(got.subject, "alice");
}

#[tokio::test]
async fn absent_roles_claim_means_no_roles() {
    let key = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![key.jwk()]).await;
    let mut c = claims();
    c.as_object_mut().unwrap().remove("roles");
    let got = verifier(jwks_config(&server.url))
        .verify(&key.token(&c))
        .await
        .unwrap();
    assert!(got.roles.is_empty());
}

#[tokio::test]
async fn audience_array_containing_ours_is_accepted() {
    let key = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![key.jwk()]).await;
    let mut c = claims();
    c["aud"] = json!(["other-api", AUDIENCE]);
    let v = verifier(jwks_config(&server.url));
    assert!(v.verify(&key.token(&c)).await.is_ok());
}

#[tokio::test]
async fn jwks_is_fetched_lazily_once_and_cached() {
    let key = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![key.jwk()]).await;
    let v = verifier(jwks_config(&server.url));
    assert_eq!(server.hits(), 0, "no fetch before first use");
    let token = key.token(&claims());
    v.verify(&token).await.unwrap();
    v.clone().verify(&token).await.unwrap();
    assert_eq!(server.hits(), 1, "clones share the cache");
}

#[tokio::test]
async fn unknown_kid_triggers_one_refetch_then_is_refused() {
    let key = TestKey::ec("ec-1");
    let stranger = TestKey::ec("not-published");
    let server = JwksServer::start(vec![key.jwk()]).await;
    let mut config = jwks_config(&server.url);
    config.jwks_refresh_min_interval = Duration::ZERO;
    let v = verifier(config);
    v.verify(&key.token(&claims())).await.unwrap();
    assert_eq!(server.hits(), 1);
    let err = v.verify(&stranger.token(&claims())).await.unwrap_err();
    assert_eq!(err, AuthError::UnknownKey);
    assert_eq!(server.hits(), 2, "exactly one refetch for the unknown kid");
}

#[tokio::test]
async fn jwks_refetch_is_rate_limited() {
    let key = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![key.jwk()]).await;
    let mut config = jwks_config(&server.url);
    config.jwks_refresh_min_interval = NEVER;
    let v = verifier(config);
    v.verify(&key.token(&claims())).await.unwrap();
    for i in 0..5 {
        let stranger = TestKey::ec(&format!("made-up-{i}"));
        let err = v.verify(&stranger.token(&claims())).await.unwrap_err();
        assert_eq!(err, AuthError::UnknownKey);
    }
    assert_eq!(server.hits(), 1, "no refetch within the minimum interval");
}

#[tokio::test]
async fn key_added_after_start_is_found_after_refetch() {
    let old = TestKey::ec("ec-old");
    let rotated = TestKey::ec("ec-new");
    let server = JwksServer::start(vec![old.jwk()]).await;
    let mut config = jwks_config(&server.url);
    config.jwks_refresh_min_interval = Duration::ZERO;
    let v = verifier(config);
    v.verify(&old.token(&claims())).await.unwrap();
    server.add_key(rotated.jwk());
    let got = v.verify(&rotated.token(&claims())).await.unwrap();
    assert_eq!(got.subject, "user-42");
    assert_eq!(server.hits(), 2);
    v.verify(&old.token(&claims())).await.unwrap();
    assert_eq!(server.hits(), 2, "both keys now cached");
}

#[tokio::test]
async fn unreachable_jwks_gives_key_source_unavailable() {
    // Bind then drop a listener to get a local port with nothing behind it.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let v = verifier(jwks_config(&format!("http://127.0.0.1:{port}/jwks")));
    let err = v.verify(&rsa_key().token(&claims())).await.unwrap_err();
    assert_eq!(err, AuthError::KeySourceUnavailable);
}

#[tokio::test]
async fn jwks_larger_than_one_mib_is_refused() {
    let key = TestKey::ec("ec-1");
    let server = JwksServer::start(vec![key.jwk()]).await;
    server.add_key(json!({"kty": "junk", "kid": "pad", "x": "A".repeat(1024 * 1024)}));
    let v = verifier(jwks_config(&server.url));
    let err = v.verify(&key.token(&claims())).await.unwrap_err();
    assert_eq!(err, AuthError::KeySourceUnavailable);
}

#[tokio::test]
async fn static_pem_source_verifies_rsa_and_ec_tokens_whatever_the_kid() {
    for key in [rsa_key(), &TestKey::ec("ignored")] {
        let config = OidcConfig::new(
            ISSUER,
            AUDIENCE,
            KeySource::StaticPem {
                pem: key.public_pem(),
            },
        );
        let got = verifier(config).verify(&key.token(&claims())).await;
        assert_eq!(got.unwrap().subject, "user-42", "{}", key.alg());
    }
}
