-- Warden schema v7 (PostgreSQL): a schedule's fires follow its owner's controls (issue
-- 10.2). An occurrence the owner may not run now (disabled, a type or priority outside
-- its limits, its `maxActive` reached) is recorded `skipped:forbidden`, and the schedule
-- says why in `blocked` until a fire runs again.

ALTER TABLE schedules ADD COLUMN blocked TEXT;

ALTER TABLE schedule_occurrences DROP CONSTRAINT schedule_occurrences_outcome_check;
ALTER TABLE schedule_occurrences ADD CONSTRAINT schedule_occurrences_outcome_check
    CHECK (outcome IN ('ran', 'skipped:overlap', 'skipped:paused', 'skipped:forbidden', 'missed:deadline', 'missed:downtime'));
