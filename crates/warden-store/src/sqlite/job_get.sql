SELECT id, kind, queue, priority, state, payload, attempt, max_attempts, timeout_ms, run_at, created_at, attempted_at, finished_at, owner, schedule_id, idempotency_key, last_error, lease_owner, lease_expires_at
FROM jobs WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)
