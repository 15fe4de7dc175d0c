SELECT schedule_id, scheduled_at, outcome, job_id, recorded_at
FROM schedule_occurrences WHERE schedule_id = ?1 ORDER BY scheduled_at LIMIT ?2
