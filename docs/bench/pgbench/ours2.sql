-- ours.sql with two jobs a statement, as a worker's two slots completing together (CompletionGroups): the
-- lease takes two jobs, the completion finishes both (pgbench cannot quote a variable, hence ':ids').
WITH t AS (SELECT coalesce(NULL::timestamptz, date_trunc('milliseconds', now())) AS now),
picked AS (
    SELECT jobs.id FROM jobs, t WHERE jobs.state = 'queued' AND jobs.run_at <= t.now AND NOT ytauto_channel_paused(jobs.channel) AND jobs.kind = 'synthetic'
    ORDER BY jobs.priority, jobs.run_at, jobs.id LIMIT 2 FOR UPDATE OF jobs SKIP LOCKED
),
leased AS (
    UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1, lease_owner = 'w' || :client_id, lease_token = jobs.lease_token + 1,
           lease_expires_at = t.now + make_interval(secs => 30), updated_at = t.now
      FROM picked, t WHERE jobs.id = picked.id
    RETURNING jobs.*
),
recorded AS (
    INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, pipeline, lease_seconds, heartbeat_at, due_at)
    SELECT leased.id, leased.attempt, leased.lease_token, leased.channel, 'w' || :client_id, t.now, 'synthetic', 30, t.now, leased.run_at FROM leased, t
)
SELECT array_agg(id) AS ids, array_agg(lease_token) AS toks FROM leased \gset
WITH t AS (SELECT coalesce(NULL::timestamptz, date_trunc('milliseconds', now())) AS now),
done AS (
    UPDATE jobs SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = t.now, updated_at = t.now,
           last_error_code = NULL, last_error_message = NULL
      FROM t
     WHERE (jobs.id, jobs.lease_token) IN (SELECT * FROM unnest(':ids'::bigint[], ':toks'::bigint[])) AND jobs.state = 'running' AND jobs.lease_owner = 'w' || :client_id
    RETURNING jobs.*
),
ended AS (
    UPDATE job_attempts SET finished_at = t.now, outcome = 'succeeded', stage = done.current_stage, error_code = NULL, error_message = NULL
      FROM t, done
     WHERE job_attempts.job_id = done.id AND job_attempts.lease_token = done.lease_token
)
SELECT * FROM done;
