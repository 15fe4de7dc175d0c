-- Replaces a schedule's definition; id, owner ($3) and created_at ($19) are kept.
UPDATE schedules
SET name = $2, cron = $4, timezone = $5, dst_gap = $6, dst_fold = $7, job_kind = $8,
    job_queue = $9, job_priority = $10, job_payload = $11, job_max_attempts = $12,
    job_timeout_ms = $13, paused = $14, overlap = $15, missed = $16, catch_up_ms = $17,
    next_fire_at = $18, updated_at = $20
WHERE id = $1 AND ($21::text IS NULL OR owner = $21)
