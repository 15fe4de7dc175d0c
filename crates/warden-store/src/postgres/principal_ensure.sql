INSERT INTO principals (id, disabled, limits, created_at, updated_at)
VALUES ($1, FALSE, '{}', $2, $2)
ON CONFLICT (id) DO NOTHING
