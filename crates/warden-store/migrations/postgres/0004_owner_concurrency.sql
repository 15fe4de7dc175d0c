-- Warden schema v4 (PostgreSQL): per-principal concurrency at dispatch.

-- `limits.maxConcurrent`, kept in a column so claims can read it cheaply.
ALTER TABLE principals ADD COLUMN max_concurrent INTEGER;
CREATE INDEX principals_max_concurrent ON principals (id) WHERE max_concurrent IS NOT NULL;
-- How many of an owner's jobs are running.
CREATE INDEX jobs_running_owner ON jobs (owner) WHERE state = 'running';
