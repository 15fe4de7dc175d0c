SELECT job_id, attempt, worker, started_at, finished_at, duration_ms, outcome, error
FROM job_runs WHERE job_id = ?1 ORDER BY attempt, id
