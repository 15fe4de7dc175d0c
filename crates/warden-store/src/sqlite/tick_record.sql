-- Keeps the latest tick: an older one (a late writer) does not move it backwards.
INSERT INTO scheduler_state (key, at) VALUES (?1, ?2)
ON CONFLICT (key) DO UPDATE SET at = excluded.at
WHERE scheduler_state.at < excluded.at
