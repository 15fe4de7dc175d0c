-- ?1 is a JSON array of jobs (payload as hex), so a batch is one statement.
INSERT INTO jobs (id, kind, queue, priority, state, payload, max_attempts, timeout_ms, run_at, created_at, owner, schedule_id, idempotency_key)
SELECT j.value ->> 'id', j.value ->> 'kind', j.value ->> 'queue', j.value ->> 'priority', j.value ->> 'state',
       unhex(j.value ->> 'payload'), j.value ->> 'max_attempts', j.value ->> 'timeout_ms', j.value ->> 'run_at',
       j.value ->> 'created_at', j.value ->> 'owner', j.value ->> 'schedule_id', j.value ->> 'idempotency_key'
FROM json_each(?1) AS j
WHERE true -- disambiguates INSERT … SELECT … ON CONFLICT for SQLite's parser
ON CONFLICT (queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id
