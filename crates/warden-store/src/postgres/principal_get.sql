SELECT p.id AS p_id, p.disabled AS p_disabled, p.limits AS p_limits, p.created_at AS p_created_at, p.updated_at AS p_updated_at
FROM principals p WHERE p.id = $1
