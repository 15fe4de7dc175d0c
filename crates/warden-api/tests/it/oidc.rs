//! OIDC bearer tokens through the API: a JWKS served on 127.0.0.1 by the test, tokens
//! signed with a key made at run time; issuer and subject name the principal (apart from
//! every key principal), the roles claim picks the role, and bad tokens are refused with
//! 401.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _},
};
use axum::{Json, Router, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use warden_core::Role;
use warden_security::oidc::{KeySource, OidcConfig, OidcVerifier};
use warden_testkit::backend_tests;

use crate::support::TestApp;

const ISSUER: &str = "https://idp.test/realms/warden";
const AUDIENCE: &str = "warden-api";
/// The principal of the tokens with `sub: carol@example.com`.
const CAROL: &str = "oidc:https://idp.test/realms/warden#carol@example.com";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Signs `claims` with `key` as an ES256 JWT (`alg` may be overridden to test refusals).
fn token(key: &EcdsaKeyPair, alg: &str, claims: Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT", "kid": "k1"});
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    if alg == "none" {
        return format!("{signing_input}.");
    }
    let sig = key
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .unwrap();
    format!("{signing_input}.{}", b64(sig.as_ref()))
}

fn claims(sub: &str, roles: &[&str], exp_in: i64) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": roles, "iat": now(), "exp": now() + exp_in})
}

/// Serves the key's public half as a JWKS; returns the URL.
async fn jwks(key: &EcdsaKeyPair) -> String {
    let point = key.public_key().as_ref();
    let doc = json!({"keys": [{
        "kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": "k1",
        "x": b64(&point[1..33]), "y": b64(&point[33..65]),
    }]});
    let app = Router::new().route("/jwks", get(move || async move { Json(doc) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks")
}

/// The app accepting tokens signed by the returned key, whose JWKS the test serves.
async fn oidc_app(db: warden_testkit::TestDb) -> (EcdsaKeyPair, TestApp) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let url = jwks(&key).await;
    let verifier =
        OidcVerifier::new(OidcConfig::new(ISSUER, AUDIENCE, KeySource::Jwks { url })).unwrap();
    (key, TestApp::spawn_oidc(db, verifier).await)
}

backend_tests!(
    oidc_tokens_name_the_principal_and_their_roles_pick_the_role,
    |db: warden_testkit::TestDb| async move {
        let (key, app) = oidc_app(db).await;

        let scheduler = token(
            &key,
            "ES256",
            claims("carol@example.com", &["offline_access", "scheduler"], 300),
        );
        let made = app
            .post(
                "/api/v1/jobs",
                &scheduler,
                json!({"jobType": "send-email", "delayMs": 60000}),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let id = made.body["data"]["jobId"].as_str().unwrap();
        let job = app.get(&format!("/api/v1/jobs/{id}"), &scheduler).await;
        assert_eq!(job.body["data"]["owner"], CAROL);

        let viewer = token(&key, "ES256", claims("carol@example.com", &["viewer"], 300));
        assert_eq!(
            app.get(&format!("/api/v1/jobs/{id}"), &viewer).await.status,
            StatusCode::OK
        );
        let denied = app
            .post("/api/v1/jobs", &viewer, json!({"jobType": "send-email"}))
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        // Several roles: the most privileged applies.
        let both = token(&key, "ES256", claims("dave", &["viewer", "admin"], 300));
        assert_eq!(app.get("/api/v1/audit", &both).await.status, StatusCode::OK);

        for (what, bad) in [
            (
                "no warden role",
                token(
                    &key,
                    "ES256",
                    claims("carol@example.com", &["offline_access"], 300),
                ),
            ),
            (
                "expired",
                token(&key, "ES256", claims("carol@example.com", &["admin"], -600)),
            ),
            (
                "alg none",
                token(&key, "none", claims("carol@example.com", &["admin"], 300)),
            ),
            (
                "HS256",
                token(&key, "HS256", claims("carol@example.com", &["admin"], 300)),
            ),
            (
                "wrong audience",
                token(
                    &key,
                    "ES256",
                    json!({"iss": ISSUER, "aud": "other", "sub": "x", "roles": ["admin"], "exp": now() + 300}),
                ),
            ),
        ] {
            let a = app.get("/api/v1/jobs", &bad).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {}", a.body);
            assert!(
                !a.body.to_string().contains(&bad),
                "{what}: the token was echoed"
            );
        }
        // A disabled principal is refused even with a valid token.
        app.set_disabled(CAROL, true).await;
        assert_eq!(
            app.get("/api/v1/jobs", &scheduler).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
);

backend_tests!(
    a_token_s_subject_never_reaches_the_key_principal_of_the_same_name,
    |db: warden_testkit::TestDb| async move {
        let (key, app) = oidc_app(db).await;
        let alice_key = app.key("alice", Role::Scheduler).await;
        let made = app
            .post(
                "/api/v1/jobs",
                &alice_key,
                json!({"jobType": "send-email", "delayMs": 60000}),
            )
            .await;
        let id = made.body["data"]["jobId"].as_str().unwrap();
        // Anyone the identity provider knows as `alice` (another tenant, a reused name).
        let token_alice = token(&key, "ES256", claims("alice", &["scheduler"], 300));
        let reached = app.get(&format!("/api/v1/jobs/{id}"), &token_alice).await;
        assert_eq!(reached.status, StatusCode::NOT_FOUND, "{}", reached.body);
        let listed = app.get("/api/v1/jobs", &token_alice).await;
        assert_eq!(listed.body["data"], json!([]), "{}", listed.body);
        let theirs = app
            .post(
                "/api/v1/jobs",
                &token_alice,
                json!({"jobType": "send-email"}),
            )
            .await;
        let theirs = theirs.body["data"]["jobId"].as_str().unwrap();
        let seen = app
            .get(&format!("/api/v1/jobs/{theirs}"), &token_alice)
            .await;
        assert_eq!(
            seen.body["data"]["owner"],
            format!("oidc:{ISSUER}#alice").as_str()
        );
        assert_eq!(
            app.get(&format!("/api/v1/jobs/{theirs}"), &alice_key)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        // No key can be made for a token holder's principal.
        let refused = app
            .post(
                "/api/v1/keys",
                crate::support::ADMIN_ENV_KEY,
                json!({"name": "k", "role": "admin", "principal": format!("oidc:{ISSUER}#alice")}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(refused.message().contains("oidc:"), "{}", refused.body);
    }
);
