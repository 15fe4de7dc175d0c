-- Warden schema v7 (SQLite): a schedule's fires follow its owner's controls (issue 10.2).
-- An occurrence the owner may not run now (disabled, a type or priority outside its
-- limits, its `maxActive` reached) is recorded `skipped:forbidden`, and the schedule says
-- why in `blocked` until a fire runs again.

ALTER TABLE schedules ADD COLUMN blocked TEXT;

-- SQLite cannot change a CHECK constraint: the ledger is rebuilt with the new outcome.
CREATE TABLE schedule_occurrences_v7 (
    schedule_id  TEXT   NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    scheduled_at BIGINT NOT NULL,
    outcome      TEXT   NOT NULL CHECK (outcome IN ('ran', 'skipped:overlap', 'skipped:paused', 'skipped:forbidden', 'missed:deadline', 'missed:downtime')),
    job_id       TEXT,
    recorded_at  BIGINT NOT NULL,
    PRIMARY KEY (schedule_id, scheduled_at)
);
INSERT INTO schedule_occurrences_v7 (schedule_id, scheduled_at, outcome, job_id, recorded_at)
    SELECT schedule_id, scheduled_at, outcome, job_id, recorded_at FROM schedule_occurrences;
DROP TABLE schedule_occurrences;
ALTER TABLE schedule_occurrences_v7 RENAME TO schedule_occurrences;
