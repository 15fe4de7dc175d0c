-- One statement: a free lock is inserted; a held one is taken over only when its time has
-- passed. Concurrent callers serialise on the row, and the condition is checked against
-- the row as the winner left it, so exactly one of them changes a row.
-- $1 name, $2 holder, $3 now, $4 until.
INSERT INTO locks (name, holder, expires_at) VALUES ($1, $2, $4)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE locks.expires_at <= $3
