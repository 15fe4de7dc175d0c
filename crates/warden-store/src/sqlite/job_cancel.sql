UPDATE jobs
SET state = 'cancelled', finished_at = ?2, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = ?1 AND state IN ('scheduled', 'available', 'running', 'retryable')
  AND (?3 IS NULL OR owner = ?3)
