-- Run history that tells the truth, diagnostic jobs kept apart, and indexes that keep every hot
-- statement logarithmic in the table's size.

-- What a job is for: 'video' jobs are leased only by workers that run the media pipeline,
-- 'synthetic' ones (ytauto enqueue --synthetic, ytauto-bench) only by diagnostic workers.
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'video' CHECK (kind IN ('video', 'synthetic'));
-- When the job was first due. run_at moves with every retry and backoff; this never does.
ALTER TABLE jobs ADD COLUMN scheduled_at TEXT;
UPDATE jobs SET scheduled_at = run_at;
-- A job that succeeded has no "last error": the errors of its earlier attempts stay in job_attempts.
UPDATE jobs SET last_error_code = NULL, last_error_message = NULL WHERE state = 'succeeded';

-- Which pipeline ran an attempt ('media', 'media (dry run)', 'synthetic 250 ms'), its lease's
-- length, and its last heartbeat: "running jobs and time since their last heartbeat" is a join.
ALTER TABLE job_attempts ADD COLUMN pipeline TEXT;
ALTER TABLE job_attempts ADD COLUMN lease_seconds REAL;
ALTER TABLE job_attempts ADD COLUMN heartbeat_at TEXT;
UPDATE job_attempts SET error_code = 'worker.shutdown',
       error_message = 'handed back on graceful shutdown (recorded before schema version 4)'
 WHERE outcome = 'handed_back' AND error_code IS NULL;

-- Every run of every stage, per attempt. job_stages keeps the latest run of each stage (what a
-- retry resumes from); this table keeps them all, so two failed narrations of a job are two rows.
CREATE TABLE job_stage_runs (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    lease_token   INTEGER NOT NULL,                       -- with job_id: the attempt (job_attempts)
    stage         TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'skipped')),
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    duration_ms   INTEGER,
    error_code    TEXT,
    error_message TEXT,
    UNIQUE (job_id, lease_token, stage),
    CHECK ((state = 'running') = (finished_at IS NULL))
);
CREATE INDEX job_stage_runs_started ON job_stage_runs (started_at);

-- A stage an attempt left 'running' (its worker died, its lease expired) is closed, in history.
UPDATE job_stages SET state = 'failed', finished_at = coalesce(finished_at, started_at),
       error_code = 'attempt.ended', error_message = 'the attempt ended while this stage ran (recorded before schema version 4)'
 WHERE state = 'running'
   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = job_stages.job_id AND j.state = 'running' AND j.attempt = job_stages.attempt);
INSERT INTO job_stage_runs (job_id, attempt, lease_token, stage, state, started_at, finished_at, duration_ms, error_code, error_message)
SELECT s.job_id, s.attempt,
       coalesce((SELECT max(a.lease_token) FROM job_attempts a WHERE a.job_id = s.job_id AND a.attempt = s.attempt), 0),
       s.stage, s.state, s.started_at, CASE WHEN s.state = 'running' THEN NULL ELSE coalesce(s.finished_at, s.started_at) END,
       s.duration_ms, s.error_code, s.error_message
  FROM job_stages s;

-- Jobs by channel and state, kept by triggers: `status` reads a few rows, not the whole table.
CREATE TABLE job_counts (
    channel TEXT    NOT NULL,
    state   TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (channel, state)
) WITHOUT ROWID;
INSERT INTO job_counts (channel, state, n) SELECT channel, state, count(*) FROM jobs GROUP BY channel, state;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (channel, state, n) VALUES (new.channel, new.state, 1)
        ON CONFLICT (channel, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs WHEN old.state IS NOT new.state BEGIN
    UPDATE job_counts SET n = n - 1 WHERE channel = old.channel AND state = old.state;
    INSERT INTO job_counts (channel, state, n) VALUES (new.channel, new.state, 1)
        ON CONFLICT (channel, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE channel = old.channel AND state = old.state;
END;

-- Indexes. Running jobs: the expired-lease sweep's index also serves "the jobs of a dead
-- worker" (running jobs are few: as many as the workers' slots), so a lease and a completion
-- each maintain one index of running jobs, not two.
DROP INDEX jobs_running_owner;
-- Queued jobs: the lease (all channels, and by channel) and the earliest due time.
DROP INDEX jobs_lease;
CREATE INDEX jobs_lease ON jobs (kind, priority, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_lease_channel ON jobs (kind, channel, priority, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs (kind, channel, run_at) WHERE state = 'queued';
-- Finished jobs: prune by age, list-failed newest first (all channels and by channel). Partial,
-- so a job's moves between queued and running never touch them.
DROP INDEX jobs_state_finished;
DROP INDEX jobs_channel_state;
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_failed ON jobs (finished_at) WHERE state = 'failed';
CREATE INDEX jobs_failed_channel ON jobs (channel, finished_at) WHERE state = 'failed';
-- Topic recency (the scheduler's topic choice): the last job of a topic on a channel.
CREATE INDEX jobs_topic ON jobs (channel, topic, created_at);
