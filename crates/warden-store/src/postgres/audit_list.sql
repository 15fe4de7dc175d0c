SELECT id, at, principal_id, key_id, action, target, outcome, client_ip, user_agent, request_id, client_request_id, detail
FROM audit_events
WHERE ($1::text IS NULL OR principal_id = $1)
  AND ($2::text IS NULL OR action = $2)
  AND ($3::text IS NULL OR outcome = $3)
  AND ($4::text IS NULL OR target = $4)
  AND ($5::bigint IS NULL OR at >= $5)
  AND ($6::bigint IS NULL OR id < $6)
ORDER BY id DESC
LIMIT $7
