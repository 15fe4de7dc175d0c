SELECT j.id, j.owner, j.queue, j.idempotency_key
FROM jobs j
JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k(owner, queue, key)
  ON j.owner = k.owner AND j.queue = k.queue AND j.idempotency_key = k.key
