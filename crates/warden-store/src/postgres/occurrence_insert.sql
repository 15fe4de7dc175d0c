-- Ledger rows, one per element of the arrays; a row already there is left alone and not
-- returned, so its job is not inserted: an occurrence fires once.
INSERT INTO schedule_occurrences (schedule_id, scheduled_at, outcome, job_id, recorded_at)
SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::uuid[], $5::bigint[])
ON CONFLICT (schedule_id, scheduled_at) DO NOTHING
RETURNING schedule_id, scheduled_at
