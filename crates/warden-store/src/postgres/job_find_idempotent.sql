SELECT j.id, j.queue, j.idempotency_key
FROM jobs j
JOIN UNNEST($1::text[], $2::text[]) AS k(queue, key) ON j.queue = k.queue AND j.idempotency_key = k.key
