SELECT queue FROM queue_states WHERE paused ORDER BY queue
