-- SQLite differs: one job per execution (the writer loops and looks up a taken key with job_find_idempotent.sql), where PostgreSQL inserts the batch as arrays in one statement.
-- One job; an (owner, queue, idempotency key) that already exists inserts nothing.
INSERT INTO jobs (id, kind, queue, priority, state, payload, max_attempts, timeout_ms, run_at, created_at, owner, schedule_id, idempotency_key, scheduled_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT (owner, queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
