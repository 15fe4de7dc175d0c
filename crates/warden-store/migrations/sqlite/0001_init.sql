-- Warden schema v1 (SQLite). Times are microseconds since the Unix epoch (BIGINT),
-- the same in both backends. UUIDs are stored as their hyphenated text. Payloads are opaque bytes (encryption at rest needs no change).

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT     NOT NULL,
    queue            TEXT     NOT NULL,
    priority         SMALLINT NOT NULL,
    state            TEXT     NOT NULL CHECK (state IN ('scheduled', 'available', 'running', 'retryable', 'succeeded', 'dead', 'cancelled')),
    payload          BLOB    NOT NULL,
    attempt          INTEGER  NOT NULL DEFAULT 0,
    max_attempts     INTEGER  NOT NULL,
    timeout_ms       BIGINT   NOT NULL,
    run_at           BIGINT   NOT NULL,
    created_at       BIGINT   NOT NULL,
    attempted_at     BIGINT,
    finished_at      BIGINT,
    owner            TEXT     NOT NULL,
    schedule_id      TEXT,
    idempotency_key  TEXT,
    last_error       TEXT,
    lease_owner      TEXT,
    lease_token      TEXT,
    lease_expires_at BIGINT
);

-- The claim scans this index in claim order and stops at the first job not yet due.
CREATE INDEX jobs_claimable ON jobs (queue, priority, run_at, id)
    WHERE state IN ('available', 'scheduled', 'retryable');
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_idempotency ON jobs (queue, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_schedule_active ON jobs (schedule_id)
    WHERE schedule_id IS NOT NULL AND state IN ('scheduled', 'available', 'running', 'retryable');

CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job_id      TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    worker      TEXT    NOT NULL,
    started_at  BIGINT  NOT NULL,
    finished_at BIGINT  NOT NULL,
    duration_ms BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    error       TEXT,
    output      BLOB
);
CREATE INDEX job_runs_job ON job_runs (job_id, attempt);

CREATE TABLE schedules (
    id               TEXT     PRIMARY KEY,
    name             TEXT     NOT NULL,
    owner            TEXT     NOT NULL,
    cron             TEXT     NOT NULL,
    timezone         TEXT     NOT NULL,
    dst_gap          TEXT     NOT NULL,
    dst_fold         TEXT     NOT NULL,
    job_kind         TEXT     NOT NULL,
    job_queue        TEXT     NOT NULL,
    job_priority     SMALLINT NOT NULL,
    job_payload      BLOB    NOT NULL,
    job_max_attempts INTEGER  NOT NULL,
    job_timeout_ms   BIGINT   NOT NULL,
    paused           INTEGER  NOT NULL,
    overlap          TEXT     NOT NULL,
    missed           TEXT     NOT NULL,
    catch_up_ms      BIGINT   NOT NULL,
    next_fire_at     BIGINT,
    created_at       BIGINT   NOT NULL,
    updated_at       BIGINT   NOT NULL,
    UNIQUE (owner, name)
);
CREATE INDEX schedules_next_fire ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;

-- The occurrence ledger: one row per (schedule, instant), so an occurrence cannot fire twice.
CREATE TABLE schedule_occurrences (
    schedule_id  TEXT   NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    scheduled_at BIGINT NOT NULL,
    outcome      TEXT   NOT NULL CHECK (outcome IN ('ran', 'skipped:overlap', 'skipped:paused', 'missed:deadline', 'missed:downtime')),
    job_id       TEXT,
    recorded_at  BIGINT NOT NULL,
    PRIMARY KEY (schedule_id, scheduled_at)
);
