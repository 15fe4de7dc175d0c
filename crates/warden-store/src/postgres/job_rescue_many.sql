-- Jobs whose worker stopped renewing its lease go back to the queue (or die when out of
-- attempts), and the lost attempt is recorded ($3 is the `lost` run outcome, bound from
-- its type).
WITH lost AS (
    SELECT id, lease_owner, attempted_at FROM jobs
    WHERE state = 'running' AND lease_expires_at < $1
    ORDER BY id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), upd AS (
    UPDATE jobs j
    SET state = CASE WHEN j.attempt >= j.max_attempts THEN 'dead' ELSE 'retryable' END,
        run_at = $1,
        finished_at = CASE WHEN j.attempt >= j.max_attempts THEN $1 END,
        last_error = 'lease expired: the worker stopped renewing it (crashed or lost the database)',
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    FROM lost
    WHERE j.id = lost.id
    RETURNING j.id, j.state, j.attempt, j.last_error
), runs AS (
    INSERT INTO job_runs (job_id, attempt, worker, started_at, finished_at, duration_ms, outcome, error)
    SELECT upd.id, upd.attempt, COALESCE(lost.lease_owner, ''), COALESCE(lost.attempted_at, $1), $1,
           ($1 - COALESCE(lost.attempted_at, $1)) / 1000, $3, upd.last_error
    FROM upd JOIN lost ON lost.id = upd.id
)
SELECT id, state FROM upd
