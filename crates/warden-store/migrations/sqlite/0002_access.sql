-- Warden schema v2 (SQLite): principals, API keys and the audit trail.

-- A user or service that owns jobs and schedules. Limits are a JSON object (see
-- `Limits`); NULL fields in it mean "no limit".
CREATE TABLE principals (
    id         TEXT    PRIMARY KEY,
    disabled   INTEGER NOT NULL DEFAULT 0,
    limits     TEXT    NOT NULL DEFAULT '{}',
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- API keys, stored only as a keyed hash (HMAC-SHA-256 with the server secret, hex).
CREATE TABLE api_keys (
    id           TEXT   PRIMARY KEY,
    principal_id TEXT   NOT NULL REFERENCES principals (id),
    name         TEXT   NOT NULL,
    role         TEXT   NOT NULL CHECK (role IN ('admin', 'scheduler', 'executor', 'viewer', 'service')),
    prefix       TEXT   NOT NULL,
    hash         TEXT   NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    rotated_from TEXT
);
CREATE INDEX api_keys_principal ON api_keys (principal_id);

-- Who did what, to what, with which outcome. Written in the transaction of the change it
-- records. Never holds a key, a token or an Authorization header.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           BIGINT NOT NULL,
    principal_id TEXT,
    key_id       TEXT,
    action       TEXT   NOT NULL,
    target       TEXT,
    outcome      TEXT   NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    request_id   TEXT,
    detail       TEXT
);
CREATE INDEX audit_events_principal ON audit_events (principal_id, id);
CREATE INDEX audit_events_action ON audit_events (action, id);

-- Listing a principal's jobs pages by id within the owner.
CREATE INDEX jobs_owner ON jobs (owner, id);
