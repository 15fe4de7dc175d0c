-- The state list repeats the claim index's predicate word for word, so SQLite's planner
-- can prove the partial index applies (it does not reason about subsets of IN lists).
SELECT min(run_at) FROM jobs
WHERE queue = ?1 AND state IN ('available', 'scheduled', 'retryable') AND state <> 'available'
