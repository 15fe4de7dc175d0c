SELECT id, at, outcome, duration_ms, fired, skipped, missed, dispatched, client_ip, user_agent, request_id, detail
FROM cron_runs
WHERE ($1::bigint IS NULL OR id < $1)
ORDER BY id DESC
LIMIT $2
