-- Optimistic cursor move: a racing enqueuer (another trigger) finds the cursor moved
-- and writes nothing.
UPDATE schedules SET next_fire_at = ?3, updated_at = ?4 WHERE id = ?1 AND next_fire_at = ?2
