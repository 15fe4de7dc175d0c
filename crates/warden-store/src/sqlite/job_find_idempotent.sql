SELECT j.id, j.queue, j.idempotency_key
FROM jobs j
JOIN json_each(?1) AS k ON j.queue = k.value ->> 'queue' AND j.idempotency_key = k.value ->> 'key'
