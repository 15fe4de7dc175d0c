SELECT k.id, k.principal_id, k.name, k.role, k.prefix, k.hash, k.created_at, k.expires_at, k.revoked_at, k.last_used_at, k.rotated_from,
       p.id AS p_id, p.disabled AS p_disabled, p.limits AS p_limits, p.created_at AS p_created_at, p.updated_at AS p_updated_at
FROM api_keys k JOIN principals p ON p.id = k.principal_id
WHERE k.hash = $1
