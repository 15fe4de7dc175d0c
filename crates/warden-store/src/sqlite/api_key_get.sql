SELECT k.id, k.principal_id, k.name, k.role, k.prefix, k.hash, k.created_at, k.expires_at, k.revoked_at, k.last_used_at, k.rotated_from
FROM api_keys k WHERE k.id = ?1
