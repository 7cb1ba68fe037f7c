UPDATE mq SET state = 'running' WHERE id = (SELECT id FROM mq WHERE state = 'queued' AND run_at <= now() ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id \gset
UPDATE mq SET state = 'done' WHERE id = :id;
