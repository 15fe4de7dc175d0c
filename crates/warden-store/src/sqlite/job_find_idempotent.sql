SELECT id FROM jobs WHERE queue = ?1 AND idempotency_key = ?2 AND owner = ?3
