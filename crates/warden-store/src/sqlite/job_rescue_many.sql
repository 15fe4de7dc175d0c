-- SQLite differs: one lost job per execution (found by job_rescue_many_lost.sql, its run written by run_insert.sql), where PostgreSQL rescues and records the batch in one statement.
-- A job whose worker stopped renewing its lease goes back to the queue (or dies when out of attempts).
UPDATE jobs
SET state = CASE WHEN attempt >= max_attempts THEN 'dead' ELSE 'retryable' END,
    run_at = ?2,
    finished_at = CASE WHEN attempt >= max_attempts THEN ?2 END,
    last_error = 'lease expired: the worker stopped renewing it (crashed or lost the database)',
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = ?1 AND state = 'running'
RETURNING state, last_error
