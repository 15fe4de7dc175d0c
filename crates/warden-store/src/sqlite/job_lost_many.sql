SELECT id, lease_owner, attempted_at, attempt FROM jobs
WHERE state = 'running' AND lease_expires_at < ?1
ORDER BY id
LIMIT ?2
