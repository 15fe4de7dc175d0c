-- The state list repeats the index's predicate word for word (see job_next_run_at.sql), so
-- the answer is the first entry of `jobs_waiting_run_at`.
SELECT min(run_at) FROM jobs
WHERE state IN ('available', 'scheduled', 'retryable') AND run_at <= $1
