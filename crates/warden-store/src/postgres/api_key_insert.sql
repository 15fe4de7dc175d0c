INSERT INTO api_keys (id, principal_id, name, role, prefix, hash, created_at, expires_at, revoked_at, last_used_at, rotated_from)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
