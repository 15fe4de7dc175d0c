-- The claim when some principal has a concurrency limit (`maxConcurrent`): owners
-- already at their limit are skipped (so they hold nobody up), and of a limited owner
-- at most its remaining room is taken, in claim order. The plain claim
-- (job_claim_many.sql) is used while no principal has a limit.
-- Runs in a transaction holding the locks of the limited owners in $7 (lock keys, see
-- job_claim_limited_owners.sql): room is counted under them, and a limited owner whose
-- lock is not held is left for the next claim, since its room could be counted twice.
-- `relaxed`: the transaction commits without waiting for its WAL flush, as the plain
-- claim does (see job_claim_many.sql).
WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)),
room AS (
    SELECT p.id AS owner,
           CASE WHEN hashtextextended(p.id, 8) = ANY($7::bigint[])
                THEN p.max_concurrent - (SELECT count(*) FROM jobs r WHERE r.owner = p.id AND r.state = 'running')
                ELSE 0 END AS room
    FROM principals p
    WHERE p.max_concurrent IS NOT NULL
), candidates AS (
    SELECT c.id, c.room,
           row_number() OVER (PARTITION BY c.owner ORDER BY c.priority, c.run_at, c.id) AS n
    FROM (
        SELECT j.id, j.owner, j.priority, j.run_at, room.room
        FROM jobs j LEFT JOIN room ON room.owner = j.owner
        WHERE j.queue = $1 AND j.state IN ('available', 'scheduled', 'retryable') AND j.run_at <= $8 AND j.created_at <= $3
          AND (room.room IS NULL OR room.room > 0)
        ORDER BY j.priority, j.run_at, j.id
        LIMIT $2 * 4
    ) c
)
UPDATE jobs
SET state = 'running', attempt = attempt + 1, attempted_at = $3,
    lease_owner = $4, lease_token = $5, lease_expires_at = $6
WHERE id IN (
    SELECT id FROM jobs
    WHERE id IN (SELECT id FROM candidates WHERE room IS NULL OR n <= room)
      AND state IN ('available', 'scheduled', 'retryable')
    ORDER BY priority, run_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) AND EXISTS (SELECT 1 FROM relaxed)
RETURNING id, kind, priority, payload, attempt, max_attempts, timeout_ms, owner, created_at, run_at, scheduled_at
