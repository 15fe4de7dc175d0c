-- Warden schema v5 (PostgreSQL): idempotency keys are per owner.
-- A key names one job of one principal in one queue; two principals using the same key
-- get two jobs (and cannot learn of each other's).
DROP INDEX jobs_idempotency;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, queue, idempotency_key) WHERE idempotency_key IS NOT NULL;
