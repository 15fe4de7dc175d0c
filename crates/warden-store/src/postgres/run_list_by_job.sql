SELECT r.id, r.job_id, r.attempt, r.worker, r.started_at, r.finished_at, r.duration_ms, r.outcome, r.error
FROM job_runs r JOIN jobs j ON j.id = r.job_id
WHERE r.job_id = $1 AND ($2::text IS NULL OR j.owner = $2)
ORDER BY r.attempt, r.id
