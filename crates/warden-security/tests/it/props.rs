//! Property tests: `verify` never panics on any input, and the API-key shape check agrees
//! with the generator and with the documented format.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use proptest::prelude::*;
use secrecy::ExposeSecret;
use warden_security::{
    apikey::{generate_key, looks_like_api_key},
    oidc::{KeySource, OidcConfig, OidcVerifier},
};

use crate::support::{AUDIENCE, ISSUER, rsa_key};

fn static_verifier() -> OidcVerifier {
    OidcVerifier::new(OidcConfig::new(
        ISSUER,
        AUDIENCE,
        KeySource::StaticPem {
            pem: rsa_key().public_pem(),
        },
    ))
    .unwrap()
}

/// Inputs shaped like tokens: base64url parts, some with a JSON header that names an
/// allowed algorithm, so parsing gets past the first checks.
fn token_like() -> impl Strategy<Value = String> {
    let part = "[A-Za-z0-9_=+/-]{0,60}";
    let header = prop_oneof![
        Just(r#"{"alg":"RS256"}"#.to_owned()),
        Just(r#"{"alg":"ES256","kid":"x"}"#.to_owned()),
        r#"\{"alg":"[A-Za-z0-9]{0,6}"(,"kid":.{0,8})?\}"#,
        ".{0,40}",
    ];
    let payload = prop_oneof![
        Just(r#"{"exp":"1","iss":1,"aud":[]}"#.to_owned()),
        r#"\{"exp":[0-9]{0,20},"aud":.{0,10}\}"#,
        ".{0,60}",
    ];
    prop_oneof![
        any::<String>(),
        (part, part, part).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (header, payload, part).prop_map(|(h, p, s)| format!(
            "{}.{}.{s}",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(p)
        )),
    ]
}

/// The documented format, written independently of the implementation.
fn reference_shape(s: &str) -> bool {
    s.len() == 68
        && s.starts_with("wdn_")
        && s[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

proptest! {
    #[test]
    fn verify_never_panics(input in token_like()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let v = static_verifier();
        let result = rt.block_on(v.verify(&input));
        prop_assert!(result.is_err());
    }

    #[test]
    fn looks_like_api_key_accepts_every_generated_key(_round in 0u8..32) {
        let key = generate_key();
        prop_assert!(looks_like_api_key(key.secret.expose_secret()));
        prop_assert!(key.secret.expose_secret().starts_with(&key.display_prefix));
    }

    #[test]
    fn looks_like_api_key_agrees_with_the_documented_format(
        s in prop_oneof![any::<String>(), "wdn_[0-9a-fA-F]{62,66}", "[wdn_x]{4}[0-9a-f]{64}"]
    ) {
        prop_assert_eq!(looks_like_api_key(&s), reference_shape(&s));
    }

    #[test]
    fn a_generated_key_with_one_character_changed_is_checked_correctly(
        pos in 0usize..68, c in any::<char>()
    ) {
        let key = generate_key();
        let mut chars: Vec<char> = key.secret.expose_secret().chars().collect();
        chars[pos] = c;
        let mutated: String = chars.into_iter().collect();
        prop_assert_eq!(looks_like_api_key(&mutated), reference_shape(&mutated));
    }
}
