SELECT min(run_at) FROM jobs WHERE queue = ?1 AND state IN ('scheduled', 'retryable')
