-- SQLite differs: one completion per execution (the writer loops, real outcomes before releases, and writes the run with run_insert.sql), where PostgreSQL fences and records the whole batch in one statement.
-- Fenced completion: only a job still running under the presented lease token changes.
-- ?7 is 1 for a release (interrupted by a shutdown), which does not count as an attempt.
UPDATE jobs
SET state = ?3,
    attempt = attempt - ?7,
    run_at = COALESCE(?4, run_at),
    finished_at = ?5,
    last_error = ?6,
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = ?1 AND lease_token = ?2 AND state = 'running'
