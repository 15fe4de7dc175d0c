-- Optimistic cursor move: it also locks the schedule row, so racing enqueuers serialise here
-- and the loser finds the cursor moved.
UPDATE schedules SET next_fire_at = $3, updated_at = $4 WHERE id = $1 AND next_fire_at = $2
