UPDATE jobs j
SET lease_expires_at = $3
FROM UNNEST($1::uuid[], $2::uuid[]) AS h(id, token)
WHERE j.id = h.id AND j.lease_token = h.token AND j.state = 'running'
RETURNING j.id
