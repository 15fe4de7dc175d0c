-- A finished-for-good job runs again: one more attempt if it had used its attempts up
-- (as River's JobRetry does); its run history is kept.
UPDATE jobs
SET state = 'available', run_at = $2, finished_at = NULL,
    max_attempts = GREATEST(max_attempts, attempt + 1)
WHERE id = ANY($1) AND state IN ('dead', 'cancelled')
  AND ($3::text IS NULL OR owner = $3)
RETURNING id, queue
