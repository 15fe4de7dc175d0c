SELECT check_value FROM server_secret_check WHERE id = 1
