INSERT INTO server_secret_check (id, check_value, created_at) VALUES (1, $1, $2)
ON CONFLICT (id) DO NOTHING
