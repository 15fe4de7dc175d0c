INSERT INTO cron_runs (at, outcome, duration_ms, fired, skipped, missed, dispatched, client_ip, user_agent, request_id, detail)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
RETURNING id
