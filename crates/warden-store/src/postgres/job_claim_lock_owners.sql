-- Takes the transaction locks of the limited owners, in the order given (sorted by the
-- caller, so that two claims never wait on each other in a cycle). Held until the claim
-- commits: a claim of the same owner in another transaction (another queue, another
-- process) waits, then counts the running jobs this one committed.
SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k
