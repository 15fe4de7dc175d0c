SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state ORDER BY queue, state
