//! The JWKS cache: fetched lazily, looked up by `kid`, refreshed on a miss at a bounded rate.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::jwk::Jwk;
use reqwest::{Client, Url, header::ACCEPT, redirect};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::{AuthError, keys::VerifyKey};
use crate::SecurityError;

/// Largest JWKS document accepted, in bytes.
pub(crate) const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Whole-request timeout for a JWKS fetch (connect, headers and body).
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys older than this are refetched on next use, so a key the provider removed (e.g.
/// after a compromise) stops verifying within this time. If that refetch fails the old
/// keys stay in use: an outage at the provider should not log every user out.
pub(crate) const MAX_KEY_AGE: Duration = Duration::from_secs(60 * 60);
/// Most keys kept from one document; real providers publish a handful.
const MAX_KEYS: usize = 64;

/// Keys by `kid`, plus when they were fetched (`None`: never successfully).
#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    fetched_at: Option<Instant>,
}

impl Keys {
    fn fresh(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        let age = self.fetched_at?.elapsed();
        (age < MAX_KEY_AGE).then(|| self.by_kid.get(kid).cloned())?
    }
}

pub(crate) struct JwksCache {
    url: Url,
    client: Client,
    min_interval: Duration,
    keys: RwLock<Keys>,
    /// Held while fetching, so concurrent misses share one fetch; holds the time of the
    /// last attempt (successful or not), which the rate limit is measured from.
    last_attempt: Mutex<Option<Instant>>,
}

impl JwksCache {
    pub(crate) fn new(url: Url, min_interval: Duration) -> Result<Self, SecurityError> {
        let client = Client::builder()
            // Proxies from the environment would bypass our URL checks.
            .no_proxy()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            // A redirect could lead to a plain-http or internal URL we did not check.
            .redirect(redirect::Policy::none())
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(SecurityError::HttpClient)?;
        Ok(Self {
            url,
            client,
            min_interval,
            keys: RwLock::new(Keys::default()),
            last_attempt: Mutex::new(None),
        })
    }

    /// The key named `kid`, fetching the JWKS first if it was never fetched, has no such
    /// key, or is older than [`MAX_KEY_AGE`] — but never fetching twice within the
    /// minimum interval.
    ///
    /// # Errors
    /// [`AuthError::UnknownKey`] if the (refreshed) set has no such key;
    /// [`AuthError::KeySourceUnavailable`] if no set could ever be fetched.
    pub(crate) async fn get(&self, kid: &str) -> Result<Arc<VerifyKey>, AuthError> {
        if let Some(key) = self.keys.read().await.fresh(kid) {
            return Ok(key);
        }
        let mut last_attempt = self.last_attempt.lock().await;
        // Another task may have refreshed while we waited for the lock.
        if let Some(key) = self.keys.read().await.fresh(kid) {
            return Ok(key);
        }
        if last_attempt.is_none_or(|t| t.elapsed() >= self.min_interval) {
            *last_attempt = Some(Instant::now());
            match self.fetch().await {
                Ok(by_kid) => {
                    tracing::debug!(jwks.url = %self.url, jwks.keys = by_kid.len(), "fetched JWKS");
                    *self.keys.write().await = Keys {
                        by_kid,
                        fetched_at: Some(Instant::now()),
                    };
                }
                Err(problem) => {
                    tracing::warn!(jwks.url = %self.url, error = %problem, "JWKS fetch failed");
                }
            }
        }
        drop(last_attempt);
        let keys = self.keys.read().await;
        match (keys.by_kid.get(kid), keys.fetched_at) {
            (Some(key), _) => Ok(Arc::clone(key)),
            (None, None) => Err(AuthError::KeySourceUnavailable),
            (None, Some(_)) => Err(AuthError::UnknownKey),
        }
    }

    /// Fetches and parses the JWKS. The error is a description for the log.
    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifyKey>>, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "application/json, application/jwk-set+json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(format!("document larger than {MAX_JWKS_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("document larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }
}

/// Parses a JWKS document, keeping the usable signature keys that have a `kid`.
///
/// A key that cannot be used is skipped (and logged) rather than failing the whole set,
/// so one exotic key at the provider does not lock everybody out. A `kid` that appears
/// twice is dropped entirely: which of the two keys is meant would be a guess.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<VerifyKey>>, String> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let set: RawSet =
        serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut by_kid = HashMap::new();
    let mut duplicates = Vec::new();
    for raw in set.keys.into_iter().take(MAX_KEYS) {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            tracing::warn!("skipping a JWKS entry that is not a JWK");
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::warn!("skipping a JWK without `kid`");
            continue;
        };
        match VerifyKey::from_jwk(&jwk) {
            Ok(key) => {
                if by_kid.insert(kid.clone(), Arc::new(key)).is_some() {
                    duplicates.push(kid);
                }
            }
            Err(reason) => tracing::warn!(jwk.kid = %kid, reason, "skipping a JWK"),
        }
    }
    for kid in duplicates {
        tracing::warn!(jwk.kid = %kid, "dropping a `kid` that appears more than once");
        by_kid.remove(&kid);
    }
    Ok(by_kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_and_duplicate_keys_are_skipped_not_fatal() {
        let doc = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "ec", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "dup", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "dup", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "weird", "kid": "w"},
            "not an object"
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ec"]);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"[]").is_err());
    }
}
