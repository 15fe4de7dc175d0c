INSERT INTO audit_events (at, principal_id, key_id, action, target, outcome, client_ip, user_agent, request_id, client_request_id, detail)
SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
