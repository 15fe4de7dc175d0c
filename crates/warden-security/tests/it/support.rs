//! Test helpers: keys generated at run time, hand-built JWTs, and a JWKS server on 127.0.0.1.

use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    encoding::AsDer,
    hmac,
    rand::SystemRandom,
    rsa::{self, KeySize},
    signature::{self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _},
};
use axum::{Json, Router, extract::State, routing::get};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde_json::{Value, json};
use warden_security::oidc::{KeySource, OidcConfig, OidcVerifier};

pub(crate) const ISSUER: &str = "https://idp.test/realms/warden";
pub(crate) const AUDIENCE: &str = "warden-api";

/// A signing key made for the test run; only its public half leaves this module.
pub(crate) enum TestKey {
    Rsa { pair: rsa::KeyPair, kid: String },
    Ec { pair: EcdsaKeyPair, kid: String },
}

impl TestKey {
    pub(crate) fn rsa(kid: &str) -> Self {
        let pair = rsa::KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        TestKey::Rsa {
            pair,
            kid: kid.to_owned(),
        }
    }

    pub(crate) fn ec(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC keygen");
        TestKey::Ec {
            pair,
            kid: kid.to_owned(),
        }
    }

    pub(crate) fn kid(&self) -> &str {
        match self {
            TestKey::Rsa { kid, .. } | TestKey::Ec { kid, .. } => kid,
        }
    }

    pub(crate) fn alg(&self) -> &'static str {
        match self {
            TestKey::Rsa { .. } => "RS256",
            TestKey::Ec { .. } => "ES256",
        }
    }

    /// The public JWK, as a provider would publish it.
    pub(crate) fn jwk(&self) -> Value {
        match self {
            TestKey::Rsa { pair, kid } => json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": b64(&self.rsa_modulus()),
                "e": b64(pair.public_key().exponent().big_endian_without_leading_zero()),
            }),
            TestKey::Ec { pair, kid } => {
                // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid,
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                })
            }
        }
    }

    pub(crate) fn rsa_modulus(&self) -> Vec<u8> {
        match self {
            TestKey::Rsa { pair, .. } => pair
                .public_key()
                .modulus()
                .big_endian_without_leading_zero()
                .to_vec(),
            TestKey::Ec { .. } => panic!("not an RSA key"),
        }
    }

    /// SubjectPublicKeyInfo DER of the public key.
    pub(crate) fn public_der(&self) -> Vec<u8> {
        match self {
            TestKey::Rsa { pair, .. } => pair.public_key().as_der().unwrap().as_ref().to_vec(),
            TestKey::Ec { pair, .. } => pair.public_key().as_der().unwrap().as_ref().to_vec(),
        }
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM of the public key.
    pub(crate) fn public_pem(&self) -> String {
        let body = STANDARD.encode(self.public_der());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            TestKey::Rsa { pair, .. } => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .unwrap();
                sig
            }
            TestKey::Ec { pair, .. } => pair.sign(&rng, message).unwrap().as_ref().to_vec(),
        }
    }

    /// A token signed by this key with the standard header (`alg`, `kid`, `typ`).
    pub(crate) fn token(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "kid": self.kid(), "typ": "JWT"});
        self.token_with_header(&header, claims)
    }

    /// A token signed by this key with any header (the `alg` in it is not checked).
    pub(crate) fn token_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        format!("{input}.{}", b64(&self.sign(input.as_bytes())))
    }
}

/// The RSA key shared by the tests (2048-bit generation is slow in debug builds).
pub(crate) fn rsa_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa("rsa-1"))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// An HS256 token whose HMAC key is `secret` (for algorithm-confusion attempts).
pub(crate) fn hs256_token(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let header = json!({"alg": "HS256", "kid": kid, "typ": "JWT"});
    let input = signing_input(&header, claims);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims that pass every check; tests change one thing at a time.
pub(crate) fn claims() -> Value {
    let now = now();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": now,
        "exp": now + 600,
        "roles": ["scheduler", "viewer"],
    })
}

pub(crate) fn jwks_config(url: &str) -> OidcConfig {
    OidcConfig::new(
        ISSUER,
        AUDIENCE,
        KeySource::Jwks {
            url: url.to_owned(),
        },
    )
}

pub(crate) fn verifier(config: OidcConfig) -> OidcVerifier {
    OidcVerifier::new(config).expect("valid test config")
}

#[derive(Clone, Default)]
struct Shared {
    hits: Arc<AtomicUsize>,
    keys: Arc<Mutex<Vec<Value>>>,
}

/// A JWKS endpoint on 127.0.0.1 that counts its requests and can gain keys later.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    shared: Shared,
}

impl JwksServer {
    pub(crate) async fn start(keys: Vec<Value>) -> Self {
        let shared = Shared::default();
        shared.keys.lock().unwrap().extend(keys);
        let app = Router::new()
            .route("/jwks", get(serve_jwks))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}/jwks"),
            shared,
        }
    }

    /// How many times the JWKS was fetched.
    pub(crate) fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    pub(crate) fn add_key(&self, jwk: Value) {
        self.shared.keys.lock().unwrap().push(jwk);
    }
}

async fn serve_jwks(State(shared): State<Shared>) -> Json<Value> {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let keys = shared.keys.lock().unwrap().clone();
    Json(json!({ "keys": keys }))
}

/// A minimum refresh interval long enough that no test run reaches it.
pub(crate) const NEVER: Duration = Duration::from_secs(3600);
