-- Why the schedule's fires are recorded `skipped:forbidden` (NULL: they run). Changes
-- nothing, and reports no row, when the reason is already this one: the caller audits
-- only a change.
UPDATE schedules SET blocked = $2 WHERE id = $1 AND blocked IS DISTINCT FROM $2
