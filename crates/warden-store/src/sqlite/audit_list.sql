SELECT id, at, principal_id, key_id, action, target, outcome, client_ip, user_agent, request_id, client_request_id, detail
FROM audit_events
WHERE (?1 IS NULL OR principal_id = ?1)
  AND (?2 IS NULL OR action = ?2)
  AND (?3 IS NULL OR outcome = ?3)
  AND (?4 IS NULL OR target = ?4)
  AND (?5 IS NULL OR at >= ?5)
  AND (?6 IS NULL OR id < ?6)
ORDER BY id DESC
LIMIT ?7
