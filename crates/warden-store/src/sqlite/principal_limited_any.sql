SELECT EXISTS (SELECT 1 FROM principals WHERE max_concurrent IS NOT NULL) AS limited
