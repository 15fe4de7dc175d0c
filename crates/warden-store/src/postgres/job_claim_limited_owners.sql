-- The limited claim's first statement (PostgreSQL only; SQLite's one writer serialises
-- claims): the lock keys of the limited owners whose jobs the claim would take, chosen
-- as job_claim_limited.sql chooses (so an owner with room is never left out), sorted so
-- that every claim takes its locks in one order. Room read here may be stale: the claim
-- counts again once it holds the locks.
WITH room AS (
    SELECT p.id AS owner,
           p.max_concurrent - (SELECT count(*) FROM jobs r WHERE r.owner = p.id AND r.state = 'running') AS room
    FROM principals p
    WHERE p.max_concurrent IS NOT NULL
)
SELECT DISTINCT hashtextextended(c.owner, 8) AS lock_key
FROM (
    SELECT j.owner, room.room
    FROM jobs j LEFT JOIN room ON room.owner = j.owner
    WHERE j.queue = $1 AND j.state IN ('available', 'scheduled', 'retryable') AND j.run_at <= $3 AND j.created_at <= $4 -- due_by, now
      AND (room.room IS NULL OR room.room > 0)
    ORDER BY j.priority, j.run_at, j.id
    LIMIT $2 * 4
) c
WHERE c.room IS NOT NULL
ORDER BY lock_key
