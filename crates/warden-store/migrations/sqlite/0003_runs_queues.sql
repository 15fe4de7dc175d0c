-- Warden schema v3 (SQLite): runs by schedule, and paused queues.

-- A schedule's run history joins its jobs, finished ones included.
CREATE INDEX jobs_schedule ON jobs (schedule_id, id) WHERE schedule_id IS NOT NULL;

-- A paused queue is not claimed from (by any process); its jobs wait.
CREATE TABLE queue_states (
    queue      TEXT    PRIMARY KEY,
    paused     INTEGER NOT NULL,
    updated_at BIGINT  NOT NULL
);
