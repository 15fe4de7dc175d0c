SELECT at FROM scheduler_state WHERE key = $1
