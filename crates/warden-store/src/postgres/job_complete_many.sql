-- Fenced completion: only rows still running under the presented lease token change;
-- a run row is written for exactly those.
-- One completion per (job, token) counts: if a batch holds two for the same attempt (a
-- worker's outcome and a shutdown release that raced it), the real outcome wins, so a
-- job cannot take one outcome arbitrarily nor get two run rows.
-- A release does not count as an attempt: the claim will reuse its number.
-- $12 is the `released` run outcome, bound from its type.
WITH input AS (
    SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::text[], $9::bigint[], $10::bigint[], $11::bytea[])
        AS c(id, token, state, outcome, run_at, error, attempt, worker, started_at, finished_at, output)
), c AS (
    SELECT DISTINCT ON (id, token) * FROM input
    ORDER BY id, token, outcome = $12
), done AS (
    UPDATE jobs j
    SET state = c.state,
        attempt = j.attempt - CASE WHEN c.outcome = $12 THEN 1 ELSE 0 END,
        run_at = COALESCE(c.run_at, j.run_at),
        finished_at = CASE WHEN c.state IN ('succeeded', 'dead', 'cancelled') THEN c.finished_at END,
        last_error = c.error,
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    FROM c
    WHERE j.id = c.id AND j.lease_token = c.token AND j.state = 'running'
    RETURNING j.id
)
INSERT INTO job_runs (job_id, attempt, worker, started_at, finished_at, duration_ms, outcome, error, output)
SELECT c.id, c.attempt, c.worker, c.started_at, c.finished_at, (c.finished_at - c.started_at) / 1000, c.outcome, c.error, c.output
FROM c JOIN done ON done.id = c.id
RETURNING job_id
