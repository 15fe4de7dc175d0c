-- Wake the producers of these queues in every warden process listening. The payload is
-- "<queue> <origin>" so the sender can ignore its own notices. A notice needs no
-- durability: this transaction does not wait for its commit to be flushed.
SELECT set_config('synchronous_commit', 'off', true), pg_notify('warden_job_insert', q || ' ' || $2)
FROM unnest($1::text[]) AS q
