-- Optimistic cursor moves, one per element of the arrays: each also locks its schedule
-- row, so racing enqueuers serialise here and the loser finds the cursor moved (and gets
-- no row back for it). $5: also clear the `blocked` reason (a plain batch runs a fire).
UPDATE schedules AS s
SET next_fire_at = m.new_at,
    updated_at = m.now,
    blocked = CASE WHEN m.clear_blocked THEN NULL ELSE s.blocked END
FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bool[])
    AS m (id, expected, new_at, now, clear_blocked)
WHERE s.id = m.id AND s.next_fire_at = m.expected
RETURNING s.id
