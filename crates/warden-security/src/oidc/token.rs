//! Reading a token before and after verification: the header's `alg`/`kid`, then the
//! subject, roles and issuer from the verified claims.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::AuthError;

/// Longest accepted token, in bytes. Real ID/access tokens are a few KiB; the cap bounds
/// the work an unauthenticated caller can make us do.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The header fields read before any key is chosen. Nothing here is trusted yet.
#[derive(Debug, Deserialize)]
pub(crate) struct RawHeader {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    /// RFC 7515 §4.1.11: extensions the verifier must understand. We understand none,
    /// so any `crit` makes the token unacceptable.
    #[serde(default)]
    crit: Option<Value>,
}

/// Splits a compact JWS and decodes its header, without trusting anything in it.
///
/// # Errors
/// [`AuthError::Malformed`] if the token is too long, does not have exactly three parts,
/// the header is not base64url JSON with a string `alg`, or it has a `crit` header.
pub(crate) fn parse_header(token: &str) -> Result<RawHeader, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed)?;
    let parsed: RawHeader = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    if parsed.crit.is_some() {
        return Err(AuthError::Malformed);
    }
    Ok(parsed)
}

/// Looks a claim up by name: first as a literal top-level name (claim names may contain
/// dots, e.g. `https://example.com/roles`), then as a dotted path through nested objects.
pub(crate) fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut segments = name.split('.');
    let mut current = claims.get(segments.next()?)?;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

/// The roles at `name`: an array of strings, or one string of space-separated roles
/// (the OAuth2 `scope` form). Absent or `null` means no roles; empty entries are dropped.
///
/// # Errors
/// [`AuthError::InvalidClaim`]`("roles")` for any other type, or an array holding a
/// non-string.
pub(crate) fn roles(claims: &Map<String, Value>, name: &str) -> Result<Vec<String>, AuthError> {
    match claim(claims, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .filter(|v| v.as_str() != Some(""))
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(AuthError::InvalidClaim("roles")),
            })
            .collect(),
        Some(_) => Err(AuthError::InvalidClaim("roles")),
    }
}

/// The principal's id from the subject claim: a non-empty string.
///
/// # Errors
/// [`AuthError::MissingClaim`]`("subject")` if absent or empty,
/// [`AuthError::InvalidClaim`]`("subject")` if not a string.
pub(crate) fn subject(claims: &Map<String, Value>, name: &str) -> Result<String, AuthError> {
    match claim(claims, name) {
        None | Some(Value::Null) => Err(AuthError::MissingClaim("subject")),
        Some(Value::String(s)) if s.is_empty() => Err(AuthError::MissingClaim("subject")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(AuthError::InvalidClaim("subject")),
    }
}

/// `iss`, which must be one string exactly equal to `expected` (the JWT library would
/// also accept an array containing it; OIDC says `iss` is a single string).
///
/// # Errors
/// [`AuthError::MissingClaim`]`("iss")` or [`AuthError::WrongIssuer`].
pub(crate) fn issuer(claims: &Map<String, Value>, expected: &str) -> Result<String, AuthError> {
    match claims.get("iss") {
        None => Err(AuthError::MissingClaim("iss")),
        Some(Value::String(s)) if s == expected => Ok(s.clone()),
        Some(_) => Err(AuthError::WrongIssuer),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn encode(header: &Value) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header.to_string()))
    }

    #[test]
    fn header_needs_three_parts_and_a_string_alg() {
        assert!(parse_header(&encode(&json!({"alg":"RS256","kid":"k"}))).is_ok());
        assert_eq!(parse_header("a.b").unwrap_err(), AuthError::Malformed);
        assert_eq!(parse_header("a.b.c.d").unwrap_err(), AuthError::Malformed);
        assert_eq!(
            parse_header(&encode(&json!({"alg":1}))).unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(
            parse_header(&encode(&json!({"kid":"k"}))).unwrap_err(),
            AuthError::Malformed
        );
        let crit = json!({"alg":"RS256","crit":["b64"],"b64":false});
        assert_eq!(
            parse_header(&encode(&crit)).unwrap_err(),
            AuthError::Malformed
        );
        let long = format!("{}.e30.c2ln", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(parse_header(&long).unwrap_err(), AuthError::Malformed);
    }

    #[test]
    fn roles_come_from_arrays_strings_and_dotted_paths() {
        let c = map(json!({
            "roles": ["admin", "", "viewer"],
            "scope": "jobs:read  jobs:write",
            "realm_access": {"roles": ["scheduler"]},
            "https://warden.example/roles": ["executor"],
            "bad": 7,
            "mixed": ["a", 1],
        }));
        assert_eq!(roles(&c, "roles").unwrap(), ["admin", "viewer"]);
        assert_eq!(roles(&c, "scope").unwrap(), ["jobs:read", "jobs:write"]);
        assert_eq!(roles(&c, "realm_access.roles").unwrap(), ["scheduler"]);
        assert_eq!(
            roles(&c, "https://warden.example/roles").unwrap(),
            ["executor"]
        );
        assert!(roles(&c, "absent.path").unwrap().is_empty());
        assert_eq!(
            roles(&c, "bad").unwrap_err(),
            AuthError::InvalidClaim("roles")
        );
        assert_eq!(
            roles(&c, "mixed").unwrap_err(),
            AuthError::InvalidClaim("roles")
        );
    }

    #[test]
    fn subject_and_issuer_are_strict_strings() {
        let c = map(json!({"sub": "u1", "email": 5, "empty": "", "iss": ["https://a"]}));
        assert_eq!(subject(&c, "sub").unwrap(), "u1");
        assert_eq!(
            subject(&c, "email").unwrap_err(),
            AuthError::InvalidClaim("subject")
        );
        assert_eq!(
            subject(&c, "empty").unwrap_err(),
            AuthError::MissingClaim("subject")
        );
        assert_eq!(
            subject(&c, "nope").unwrap_err(),
            AuthError::MissingClaim("subject")
        );
        assert_eq!(issuer(&c, "https://a").unwrap_err(), AuthError::WrongIssuer);
    }
}
