-- SQLite differs: one row per execution, in a loop over a cached statement on the writer thread (microseconds each, no round trip), where PostgreSQL takes the batch as arrays in one statement.
UPDATE jobs
SET state = 'cancelled', finished_at = ?2, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = ?1 AND state IN ('scheduled', 'available', 'running', 'retryable')
  AND (?3 IS NULL OR owner = ?3)
