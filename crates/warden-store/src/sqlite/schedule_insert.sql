INSERT INTO schedules (id, name, owner, cron, timezone, dst_gap, dst_fold, job_kind, job_queue, job_priority, job_payload,
                       job_max_attempts, job_timeout_ms, paused, overlap, missed, catch_up_ms, next_fire_at, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
