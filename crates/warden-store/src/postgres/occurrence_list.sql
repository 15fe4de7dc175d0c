SELECT o.schedule_id, o.scheduled_at, o.outcome, o.job_id, o.recorded_at
FROM schedule_occurrences o JOIN schedules s ON s.id = o.schedule_id
WHERE o.schedule_id = $1 AND ($3::text IS NULL OR s.owner = $3)
  AND ($4::bigint IS NULL OR o.scheduled_at > $4)
ORDER BY o.scheduled_at LIMIT $2
