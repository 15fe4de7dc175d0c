-- Fenced completion: only a job still running under the presented lease token changes.
UPDATE jobs
SET state = ?3,
    run_at = COALESCE(?4, run_at),
    finished_at = ?5,
    last_error = ?6,
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = ?1 AND lease_token = ?2 AND state = 'running'
