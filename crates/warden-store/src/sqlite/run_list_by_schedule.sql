SELECT r.id, r.job_id, r.attempt, r.worker, r.started_at, r.finished_at, r.duration_ms, r.outcome, r.error
FROM job_runs r JOIN jobs j ON j.id = r.job_id
WHERE j.schedule_id = ?1 AND (?2 IS NULL OR j.owner = ?2)
  AND (?3 IS NULL OR r.id < ?3)
ORDER BY r.id DESC
LIMIT ?4
