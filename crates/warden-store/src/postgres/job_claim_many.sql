-- Claim in claim order; SKIP LOCKED lets several warden processes claim side by side.
-- `relaxed`: this transaction commits without waiting for its WAL flush (as SET LOCAL
-- synchronous_commit = off would, in one statement). A claim lost in a crash leaves its
-- jobs claimable, as a lease that expires would: they run again (at least once). Any
-- later durable commit (a completion of these jobs) flushes it too.
WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))
UPDATE jobs
SET state = 'running', attempt = attempt + 1, attempted_at = $3,
    lease_owner = $4, lease_token = $5, lease_expires_at = $6
WHERE id IN (
    SELECT id FROM jobs
    WHERE queue = $1 AND state IN ('available', 'scheduled', 'retryable') AND run_at <= $7 AND created_at <= $3
    ORDER BY priority, run_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) AND EXISTS (SELECT 1 FROM relaxed)
RETURNING id, kind, priority, payload, attempt, max_attempts, timeout_ms, owner, created_at, run_at, scheduled_at
