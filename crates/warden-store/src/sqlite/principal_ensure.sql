INSERT INTO principals (id, disabled, limits, created_at, updated_at)
VALUES (?1, 0, '{}', ?2, ?2)
ON CONFLICT (id) DO NOTHING
