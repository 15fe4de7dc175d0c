-- Fenced completion: only rows still running under the presented lease token change.
UPDATE jobs
SET state = c.value ->> 'state',
    run_at = COALESCE(c.value ->> 'run_at', jobs.run_at),
    finished_at = CASE WHEN c.value ->> 'state' IN ('succeeded', 'dead', 'cancelled') THEN c.value ->> 'finished_at' END,
    last_error = c.value ->> 'error',
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
FROM json_each(?1) AS c
WHERE jobs.id = c.value ->> 'id' AND jobs.lease_token = c.value ->> 'token' AND jobs.state = 'running'
RETURNING id
