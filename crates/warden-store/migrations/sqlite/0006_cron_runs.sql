-- Warden schema v6 (SQLite): the history of `/cron/run`, named locks shared by every
-- process on the database, and the scheduler's heartbeat.

-- One row per call of `/cron/run`, refused calls included. Never holds a token.
-- Listed newest first by id (the primary key serves the listing and its cursor); AUTOINCREMENT
-- never reuses an id, so a cursor stays valid.
CREATE TABLE cron_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    outcome     TEXT   NOT NULL,
    duration_ms BIGINT NOT NULL,
    fired       BIGINT NOT NULL,
    skipped     BIGINT NOT NULL,
    missed      BIGINT NOT NULL,
    dispatched  BIGINT NOT NULL,
    client_ip   TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    detail      TEXT
);

-- A named lock with a time to live: held by `holder` until `expires_at`, after which
-- anyone may take it (a crashed holder cannot keep it).
CREATE TABLE locks (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Scheduler facts that must outlive a process: `last_tick`, the latest tick recorded.
CREATE TABLE scheduler_state (
    key TEXT   PRIMARY KEY,
    at  BIGINT NOT NULL
);
