-- SQLite only: the run row of one completion or rescue, written beside it; PostgreSQL writes runs inside job_complete_many.sql and job_rescue_many.sql.
INSERT INTO job_runs (job_id, attempt, worker, started_at, finished_at, duration_ms, outcome, error, output)
VALUES (?1, ?2, ?3, ?4, ?5, (?5 - ?4) / 1000, ?6, ?7, ?8)
