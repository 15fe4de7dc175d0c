//! The JSON shapes of jobs, schedules, runs, occurrences, keys, principals and audit
//! events in API answers (camelCase, as the seed's `jobType` / `queueName`).

use serde_json::{Map, Value, json};
use warden_store::{ApiKeyRecord, AuditEvent, Job, Occurrence, PrincipalRecord, Run, Schedule};

/// Object keys whose values are hidden from roles that see payloads redacted.
const SENSITIVE: [&str; 9] = [
    "password",
    "secret",
    "token",
    "apikey",
    "api_key",
    "authorization",
    "cookie",
    "credential",
    "privatekey",
];

fn is_sensitive(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['-', '_'], "");
    SENSITIVE.iter().any(|s| k.contains(&s.replace('_', "")))
}

/// Replaces the values of sensitive-looking keys, at any depth, with `[REDACTED]`.
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_sensitive(&k) {
                        Value::String("[REDACTED]".into())
                    } else {
                        redact(v)
                    };
                    (k, v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

fn data(payload: Value, redacted: bool) -> Value {
    if redacted { redact(payload) } else { payload }
}

pub fn job(j: &Job, redacted: bool) -> Value {
    json!({
        "id": j.id,
        "jobType": j.kind.as_str(),
        "queueName": j.queue.as_str(),
        "priority": j.priority.as_str(),
        "state": j.state.as_str(),
        "data": data(j.payload.to_json(), redacted),
        "attempt": j.attempt,
        "maxAttempts": j.max_attempts,
        "runAt": j.run_at,
        "timeoutMs": j.timeout.as_millis(),
        "idempotencyKey": j.idempotency_key,
        "owner": j.owner,
        "scheduleId": j.schedule_id,
        "createdAt": j.created_at,
        "attemptedAt": j.attempted_at,
        "finishedAt": j.finished_at,
        "lastError": j.last_error,
    })
}

pub fn schedule(s: &Schedule, redacted: bool) -> Value {
    let t = &s.template;
    json!({
        "id": s.id,
        "name": s.name,
        "owner": s.owner,
        "cron": s.cron.expr(),
        "timezone": s.cron.tz_name(),
        "dst": {"gap": s.cron.dst().gap.as_str(), "fold": s.cron.dst().fold.as_str()},
        "jobType": t.kind.as_str(),
        "queueName": t.queue.as_str(),
        "priority": t.priority.as_str(),
        "data": data(t.payload.to_json(), redacted),
        "maxAttempts": t.max_attempts.get(),
        "timeoutMs": t.timeout.as_millis(),
        "paused": s.paused,
        "overlap": s.overlap.as_str(),
        "missed": s.missed.as_str(),
        "catchUpSecs": s.catch_up.as_duration().as_secs(),
        "nextFireAt": s.next_fire_at,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
    })
}

pub fn run(r: &Run) -> Value {
    json!({
        "jobId": r.job_id,
        "attempt": r.attempt,
        "worker": r.worker,
        "startedAt": r.started_at,
        "finishedAt": r.finished_at,
        "durationMs": r.duration_ms,
        "outcome": r.outcome,
        "error": r.error,
    })
}

pub fn occurrence(o: &Occurrence) -> Value {
    json!({
        "scheduleId": o.schedule_id,
        "scheduledAt": o.scheduled_at,
        "outcome": o.outcome.as_str(),
        "jobId": o.job_id,
        "recordedAt": o.recorded_at,
    })
}

/// A key as listed: never the key, never its hash.
pub fn api_key(k: &ApiKeyRecord) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "principal": k.principal_id,
        "role": k.role,
        "prefix": k.prefix,
        "createdAt": k.created_at,
        "expiresAt": k.expires_at,
        "revokedAt": k.revoked_at,
        "lastUsedAt": k.last_used_at,
        "rotatedFrom": k.rotated_from,
    })
}

pub fn principal(p: &PrincipalRecord) -> Value {
    json!({
        "id": p.id,
        "disabled": p.disabled,
        "limits": p.limits,
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
    })
}

pub fn audit_event(e: &AuditEvent) -> Value {
    let r = &e.record;
    json!({
        "id": e.id,
        "at": r.at,
        "principal": r.principal_id,
        "keyId": r.key_id,
        "action": r.action,
        "target": r.target,
        "outcome": r.outcome,
        "clientIp": r.client_ip,
        "userAgent": r.user_agent,
        "requestId": r.request_id,
        "detail": r.detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_fields_are_redacted_at_any_depth() {
        let v = json!({"to": "a@b.c", "smtpPassword": "p", "nested": [{"API-Key": "k", "n": 1}], "Authorization": "Bearer x"});
        assert_eq!(
            redact(v),
            json!({"to": "a@b.c", "smtpPassword": "[REDACTED]", "nested": [{"API-Key": "[REDACTED]", "n": 1}], "Authorization": "[REDACTED]"})
        );
    }
}
