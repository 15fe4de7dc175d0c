-- SQLite differs: one row per execution, in a loop over a cached statement on the writer thread (microseconds each, no round trip), where PostgreSQL takes the batch as arrays in one statement.
-- A finished-for-good job runs again: one more attempt if it had used its attempts up
-- (as River's JobRetry does); its run history is kept.
UPDATE jobs
SET state = 'available', run_at = ?2, finished_at = NULL,
    max_attempts = MAX(max_attempts, attempt + 1)
WHERE id = ?1 AND state IN ('dead', 'cancelled')
  AND (?3 IS NULL OR owner = ?3)
