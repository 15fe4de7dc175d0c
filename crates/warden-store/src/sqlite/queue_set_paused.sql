INSERT INTO queue_states (queue, paused, updated_at) VALUES (?1, ?2, ?3)
ON CONFLICT (queue) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at
