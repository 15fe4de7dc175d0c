UPDATE schedules SET paused = $2, updated_at = $3 WHERE id = $1 AND ($4::text IS NULL OR owner = $4)
