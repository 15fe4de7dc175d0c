SELECT id FROM jobs WHERE schedule_id = $1 AND state IN ('scheduled', 'available', 'running', 'retryable')
