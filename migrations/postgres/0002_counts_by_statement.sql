-- The job counts and the wake-ups, kept once a statement instead of once a row, and the counts
-- in shards.
--
-- Once a statement: the triggers run over the statement's transition tables. With row-level
-- triggers, a one-statement INSERT of a million jobs (a backlog, `retry --all-failed` of many)
-- updated one count row a million times within one transaction, along one row version chain,
-- and ran for more than 13 minutes; now each count changes once a statement. Counts are changed
-- in (channel, state) order, so two transactions moving jobs in opposite directions (a lease, a
-- requeue) cannot deadlock.
--
-- In shards: each (channel, state) count is kept in up to 16 rows, one a server backend
-- (pg_backend_pid() % 16), and the count is their sum. With one row a count, every lease and
-- every completion updated the same two rows under their row locks, and concurrent workers
-- queued on them until each other's commit (measured with pgbench, 4 clients: 1,000-1,130
-- leases+completions a second with one row a count, 1,280-1,420 with shards; 2026-11-30). A
-- shard's own number may be negative (a job inserted through one backend and leased through
-- another); only the sum means anything. The counts already kept move over as shard 0.
--
-- Wake-ups: a statement that makes a job queued (an enqueue, a retry, a job handed back or freed)
-- notifies channel ytauto_work when its transaction commits; idle workers LISTEN on it. Any
-- writer, plain SQL included, wakes them.
DROP TRIGGER jobs_count_insert ON jobs;
DROP TRIGGER jobs_count_update ON jobs;
DROP TRIGGER jobs_count_delete ON jobs;
DROP TRIGGER jobs_notify_insert ON jobs;
DROP TRIGGER jobs_notify_update ON jobs;
DROP FUNCTION ytauto_job_counts();
DROP FUNCTION ytauto_notify_work();

ALTER TABLE job_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE job_counts DROP CONSTRAINT job_counts_pkey;
ALTER TABLE job_counts ADD PRIMARY KEY (channel, state, shard);

CREATE FUNCTION ytauto_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (channel, state, shard, n)
    SELECT channel, state, pg_backend_pid() % 16, count(*) FROM new_rows GROUP BY channel, state ORDER BY channel, state
        ON CONFLICT (channel, state, shard) DO UPDATE SET n = job_counts.n + excluded.n;
    IF EXISTS (SELECT 1 FROM new_rows WHERE state = 'queued') THEN
        PERFORM pg_notify('ytauto_work', '');
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION ytauto_jobs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH moved AS (
        SELECT o.channel, o.state AS old_state, n.state AS new_state
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE o.state <> n.state
    ), changes AS (
        SELECT channel, old_state AS state, -count(*) AS k FROM moved GROUP BY channel, old_state
        UNION ALL
        SELECT channel, new_state, count(*) FROM moved GROUP BY channel, new_state
    )
    INSERT INTO job_counts (channel, state, shard, n)
    SELECT channel, state, pg_backend_pid() % 16, sum(k) FROM changes GROUP BY channel, state HAVING sum(k) <> 0 ORDER BY channel, state
        ON CONFLICT (channel, state, shard) DO UPDATE SET n = job_counts.n + excluded.n;
    IF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.state = 'queued' AND o.state <> 'queued') THEN
        PERFORM pg_notify('ytauto_work', '');
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION ytauto_jobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_counts (channel, state, shard, n)
    SELECT channel, state, pg_backend_pid() % 16, -count(*) FROM old_rows GROUP BY channel, state ORDER BY channel, state
        ON CONFLICT (channel, state, shard) DO UPDATE SET n = job_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ytauto_jobs_inserted();
CREATE TRIGGER jobs_updated AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ytauto_jobs_updated();
CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ytauto_jobs_deleted();
