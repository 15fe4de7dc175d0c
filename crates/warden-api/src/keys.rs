//! Issuing and rotating API keys, shared by the API and `warden keys`: the key is made
//! here, shown once to the caller, and only its keyed hash is stored.

use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use uuid::Uuid;
use warden_core::{AuditAction, AuditOutcome, ParseError, PrincipalId, Role};
use warden_security::apikey::{KeyHasher, generate_key};
use warden_store::{ApiKeyRecord, AuditContext, KeyRotation, Store, StoreError};

/// A key just made: the secret (shown once) and what was stored.
pub struct IssuedKey {
    pub secret: SecretString,
    pub record: ApiKeyRecord,
}

/// Parses `90d`, `24h`, `30m`, `3600s` (a whole number and a unit) into a duration.
pub fn parse_duration(field: &'static str, value: &str) -> Result<SignedDuration, ParseError> {
    let expected = "a whole number with a unit: s, m, h or d (e.g. 90d, 24h)";
    let value = value.trim();
    // Split before the last character (not byte: a multi-byte unit must not panic).
    let cut = value.char_indices().last().map_or(0, |(i, _)| i);
    let (n, unit) = value.split_at(cut);
    let n: i64 = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ParseError::new(
            field,
            format!("{value:?} is not a positive duration"),
            expected,
        )
    })?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .filter(|s| *s <= 10 * 366 * 86_400)
    .ok_or_else(|| {
        ParseError::new(
            field,
            format!("{value:?} has no unit or is over 10 years"),
            expected,
        )
    })?;
    Ok(SignedDuration::from_secs(secs))
}

fn check_name(name: &str) -> Result<String, ParseError> {
    if name.trim().is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(ParseError::new(
            "name",
            "is empty, too long or has control characters",
            "1 to 100 printable characters",
        ));
    }
    Ok(name.trim().to_owned())
}

/// Makes a key for `principal` with `role`, stores its hash (with an audit record when
/// `audit` is given) and returns it.
pub async fn issue_key<S: Store>(
    store: &S,
    hasher: &KeyHasher,
    name: &str,
    role: Role,
    principal: &PrincipalId,
    expires_in: Option<SignedDuration>,
    audit: Option<&AuditContext>,
) -> Result<IssuedKey, IssueError> {
    let now = Timestamp::now();
    let new = generate_key();
    let record = ApiKeyRecord {
        id: Uuid::now_v7(),
        principal_id: principal.clone(),
        name: check_name(name)?,
        role,
        prefix: new.display_prefix.clone(),
        hash: hasher
            .hash(secrecy::ExposeSecret::expose_secret(&new.secret))
            .to_hex(),
        created_at: now,
        expires_at: expires_in
            .map(|d| now.checked_add(d))
            .transpose()
            .map_err(|_| {
                ParseError::new("expires", "is too far in the future", "at most 10 years")
            })?,
        revoked_at: None,
        last_used_at: None,
        rotated_from: None,
    };
    let records = audit
        .map(|a| {
            let mut r = a.record(
                now,
                AuditAction::KeyCreate,
                Some(record.id.to_string()),
                AuditOutcome::Ok,
            );
            r.detail = Some(format!("principal {principal}, role {role}"));
            vec![r]
        })
        .unwrap_or_default();
    store.api_key_insert(record.clone(), records).await?;
    Ok(IssuedKey {
        secret: new.secret,
        record,
    })
}

/// Issues a new key for the same principal and role as `old_id`; the old key keeps
/// working for `overlap`, then expires.
pub async fn rotate_key<S: Store>(
    store: &S,
    hasher: &KeyHasher,
    old_id: Uuid,
    overlap: SignedDuration,
    audit: Option<&AuditContext>,
) -> Result<IssuedKey, IssueError> {
    let old = store.api_key_get(old_id).await?;
    let now = Timestamp::now();
    if !old.is_live(now) {
        return Err(IssueError::Dead);
    }
    let new = generate_key();
    let record = ApiKeyRecord {
        id: Uuid::now_v7(),
        principal_id: old.principal_id.clone(),
        name: old.name.clone(),
        role: old.role,
        prefix: new.display_prefix.clone(),
        hash: hasher
            .hash(secrecy::ExposeSecret::expose_secret(&new.secret))
            .to_hex(),
        created_at: now,
        expires_at: old.expires_at,
        revoked_at: None,
        last_used_at: None,
        rotated_from: Some(old.id),
    };
    let records = audit
        .map(|a| {
            let mut r = a.record(
                now,
                AuditAction::KeyRotate,
                Some(old.id.to_string()),
                AuditOutcome::Ok,
            );
            r.detail = Some(format!(
                "new key {}, overlap {}s",
                record.id,
                overlap.as_secs()
            ));
            vec![r]
        })
        .unwrap_or_default();
    let old_expires_at = now
        .checked_add(overlap)
        .map_err(|_| ParseError::new("overlap", "is too long", "at most 10 years"))?;
    store
        .api_key_rotate(
            KeyRotation {
                old_id,
                old_expires_at,
                new_key: record.clone(),
            },
            records,
        )
        .await?;
    Ok(IssuedKey {
        secret: new.secret,
        record,
    })
}

/// Why a key could not be issued or rotated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    #[error(transparent)]
    Invalid(#[from] ParseError),
    #[error("the key is revoked or expired; issue a new key with `warden keys create` instead")]
    Dead,
    #[error("storage failed")]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_bad_ones_name_the_field() {
        assert_eq!(
            parse_duration("expires", "90d").unwrap().as_secs(),
            90 * 86_400
        );
        assert_eq!(parse_duration("overlap", "24h").unwrap().as_secs(), 86_400);
        assert_eq!(parse_duration("overlap", "30m").unwrap().as_secs(), 1_800);
        for bad in ["", "d", "0d", "-1d", "12", "1w", "99999d", "1é", "é", "24ч"] {
            let e = parse_duration("expires", bad).unwrap_err().to_string();
            assert!(e.contains("`expires`") && e.contains("90d"), "{bad}: {e}");
        }
    }
}
