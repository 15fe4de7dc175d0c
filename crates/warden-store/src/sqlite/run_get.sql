SELECT r.id, r.job_id, r.attempt, r.worker, r.started_at, r.finished_at, r.duration_ms, r.outcome, r.error, r.output
FROM job_runs r JOIN jobs j ON j.id = r.job_id
WHERE r.id = ?1 AND (?2 IS NULL OR j.owner = ?2)
