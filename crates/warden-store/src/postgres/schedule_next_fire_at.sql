SELECT min(next_fire_at) FROM schedules
