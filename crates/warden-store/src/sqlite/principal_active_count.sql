SELECT (SELECT count(*) FROM jobs WHERE owner = ?1 AND state IN ('scheduled', 'available', 'running', 'retryable'))
     + (SELECT count(*) FROM schedules WHERE owner = ?1) AS n
