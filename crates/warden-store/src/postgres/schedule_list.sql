SELECT id, name, owner, cron, timezone, dst_gap, dst_fold, job_kind, job_queue, job_priority, job_max_attempts, job_timeout_ms, paused, overlap, missed, catch_up_ms, next_fire_at, created_at, updated_at, blocked
FROM schedules
WHERE ($2::text IS NULL OR owner = $2) AND ($3::uuid IS NULL OR id > $3)
ORDER BY id LIMIT $1
