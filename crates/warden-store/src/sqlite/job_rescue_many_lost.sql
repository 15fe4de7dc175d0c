-- SQLite only: the first step of job_rescue_many (the running jobs whose lease expired); PostgreSQL does it inside job_rescue_many.sql.
SELECT id, lease_owner, attempted_at, attempt FROM jobs
WHERE state = 'running' AND lease_expires_at < ?1
ORDER BY id
LIMIT ?2
