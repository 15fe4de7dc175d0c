-- Due now, or (overlap allowed: recorded ahead of time) due by the horizon ?3.
SELECT id, name, owner, cron, timezone, dst_gap, dst_fold, job_kind, job_queue, job_priority, job_payload, job_max_attempts, job_timeout_ms, paused, overlap, missed, catch_up_ms, next_fire_at, created_at, updated_at, blocked
FROM schedules
WHERE next_fire_at <= ?3 AND (next_fire_at <= ?1 OR overlap = 'allow')
ORDER BY next_fire_at LIMIT ?2
