SELECT queue FROM queue_states WHERE paused <> 0 ORDER BY queue
