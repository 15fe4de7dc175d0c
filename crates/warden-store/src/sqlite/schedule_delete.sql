DELETE FROM schedules WHERE id = ?1
