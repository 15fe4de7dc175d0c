INSERT INTO schedule_occurrences (schedule_id, scheduled_at, outcome, job_id, recorded_at)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (schedule_id, scheduled_at) DO NOTHING
