-- Warden schema v8 (PostgreSQL): the client's request id beside warden's own in the audit
-- trail, and the check value of the server secret.

-- `request_id` is warden's own id for the request; a client's `X-Request-Id` is kept here,
-- apart, so a caller cannot forge correlation with other entries.
ALTER TABLE audit_events ADD COLUMN client_request_id TEXT;

-- One row: an HMAC of a fixed label under the server secret (never the secret), written by
-- the first process to start on the database. A process with another secret refuses to
-- start or to issue keys instead of making keys the others reject.
CREATE TABLE server_secret_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    check_value TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
