SELECT id, kind, queue, priority, state, attempt, max_attempts, timeout_ms, run_at, created_at, attempted_at, finished_at, owner, schedule_id, idempotency_key, last_error, lease_owner, lease_expires_at
FROM jobs
WHERE ($1::text IS NULL OR queue = $1)
  AND ($2::text IS NULL OR state = $2)
  AND ($3::uuid IS NULL OR schedule_id = $3)
  AND ($5::text IS NULL OR owner = $5)
  AND ($6::uuid IS NULL OR id > $6)
ORDER BY id
LIMIT $4
