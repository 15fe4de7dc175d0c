SELECT id FROM jobs WHERE queue = ?1 AND idempotency_key = ?2
