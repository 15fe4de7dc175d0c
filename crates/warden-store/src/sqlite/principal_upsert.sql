INSERT INTO principals (id, disabled, limits, created_at, updated_at, max_concurrent)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (id) DO UPDATE SET disabled = excluded.disabled, limits = excluded.limits,
    updated_at = excluded.updated_at, max_concurrent = excluded.max_concurrent
