-- Warden schema v10 (PostgreSQL): a job made by a schedule occurrence keeps that occurrence's
-- instant, so every attempt of it sees the same scheduled time (`${NOW}`, `scheduled_at`)
-- whatever its retries and delays. NULL for jobs not made by an occurrence.
ALTER TABLE jobs ADD COLUMN scheduled_at BIGINT;
