INSERT INTO jobs (id, kind, queue, priority, state, payload, max_attempts, timeout_ms, run_at, created_at, owner, schedule_id, idempotency_key, scheduled_at)
SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::bytea[], $7::int[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::uuid[], $13::text[], $14::bigint[])
ON CONFLICT (owner, queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id
