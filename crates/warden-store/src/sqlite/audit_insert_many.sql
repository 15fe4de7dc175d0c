-- SQLite differs: one row per execution, in a loop over a cached statement on the writer thread (microseconds each, no round trip), where PostgreSQL takes the batch as arrays in one statement.
INSERT INTO audit_events (at, principal_id, key_id, action, target, outcome, client_ip, user_agent, request_id, client_request_id, detail)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
