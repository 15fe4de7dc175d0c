-- Run rows for the completions that counted (?2 is the JSON array of their ids).
INSERT INTO job_runs (job_id, attempt, worker, started_at, finished_at, duration_ms, outcome, error)
SELECT c.value ->> 'id', c.value ->> 'attempt', c.value ->> 'worker', c.value ->> 'started_at', c.value ->> 'finished_at',
       (c.value ->> 'finished_at' - c.value ->> 'started_at') / 1000, c.value ->> 'outcome', c.value ->> 'error'
FROM json_each(?1) AS c
WHERE c.value ->> 'id' IN (SELECT value FROM json_each(?2))
