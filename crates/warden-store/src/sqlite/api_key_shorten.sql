-- Rotation: the old key lives until the overlap ends (or its own expiry, if sooner).
UPDATE api_keys SET expires_at = MIN(COALESCE(expires_at, ?2), ?2)
WHERE id = ?1 AND revoked_at IS NULL
RETURNING principal_id, role
