INSERT INTO job_runs (job_id, attempt, worker, started_at, finished_at, duration_ms, outcome, error)
SELECT l.value ->> 'id', l.value ->> 'attempt', l.value ->> 'worker', l.value ->> 'started_at', ?2,
       (?2 - l.value ->> 'started_at') / 1000, 'lost', ?3
FROM json_each(?1) AS l
