-- Optimistic cursor moves, one per element of the arrays. The rows are locked first, in
-- id order, so that two enqueuers moving overlapping sets (every process runs one) cannot
-- deadlock whatever order the update's plan visits them in; racing enqueuers serialise
-- here and the loser finds the cursor moved (and gets no row back for it). $5: also clear
-- the `blocked` reason (a plain batch runs a fire).
WITH locked AS MATERIALIZED (
    SELECT id FROM schedules WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
)
UPDATE schedules AS s
SET next_fire_at = m.new_at,
    updated_at = m.now,
    blocked = CASE WHEN m.clear_blocked THEN NULL ELSE s.blocked END
FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bool[])
    AS m (id, expected, new_at, now, clear_blocked)
WHERE s.id = m.id AND s.next_fire_at = m.expected AND s.id IN (SELECT id FROM locked)
RETURNING s.id
