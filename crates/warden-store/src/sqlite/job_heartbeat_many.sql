-- SQLite differs: one row per execution, in a loop over a cached statement on the writer thread (microseconds each, no round trip), where PostgreSQL takes the batch as arrays in one statement.
UPDATE jobs SET lease_expires_at = ?3 WHERE id = ?1 AND lease_token = ?2 AND state = 'running'
