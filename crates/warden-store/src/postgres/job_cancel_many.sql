UPDATE jobs
SET state = 'cancelled', finished_at = $2, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = ANY($1) AND state IN ('scheduled', 'available', 'running', 'retryable')
  AND ($3::text IS NULL OR owner = $3)
RETURNING id, queue
