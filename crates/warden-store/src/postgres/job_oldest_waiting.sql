-- No index of its own: one on run_at cost every insert and claim about 15% of SQLite's
-- throughput in `warden bench`. The state list repeats the claim index's predicate word for
-- word, so this reads `jobs_claimable` (a scan of the waiting jobs' entries); it serves the
-- health check and /cron/run, never the claim path.
SELECT min(run_at) FROM jobs
WHERE state IN ('available', 'scheduled', 'retryable') AND run_at <= $1
