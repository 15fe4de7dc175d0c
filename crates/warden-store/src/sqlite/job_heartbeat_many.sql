UPDATE jobs
SET lease_expires_at = ?2
FROM json_each(?1) AS h
WHERE jobs.id = h.value ->> 'id' AND jobs.lease_token = h.value ->> 'token' AND jobs.state = 'running'
RETURNING id
