-- Optimistic cursor move: a racing enqueuer (another trigger) finds the cursor moved
-- and writes nothing. ?5: also clear the `blocked` reason (a plain batch runs a fire).
UPDATE schedules SET next_fire_at = ?3, updated_at = ?4,
    blocked = CASE WHEN ?5 THEN NULL ELSE blocked END
WHERE id = ?1 AND next_fire_at = ?2
