-- Wake the producers of these queues in every warden process (delivered at commit).
SELECT pg_notify('warden_job_insert', q) FROM unnest($1::text[]) AS q
