DELETE FROM locks WHERE name = $1 AND holder = $2
