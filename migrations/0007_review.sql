-- Review before publish: a job of a channel with `review: true` stops before its publish stage
-- in the new state 'review', held by no worker, until an operator approves it (queued again) or
-- rejects it (cancelled). Its attempt ends with the new outcome 'review' (not counted).
--
-- SQLite cannot change a CHECK in place, so `jobs` and `job_attempts` are made again with the
-- new ones by SQLite's documented procedure (https://sqlite.org/lang_altertable.html#otheralter):
-- the migrator runs every migration with foreign keys off and checks them before it commits.
-- Columns, indexes and triggers are as before.

CREATE TABLE jobs_new (
    id                 INTEGER PRIMARY KEY,
    channel            TEXT    NOT NULL,
    topic              TEXT,
    payload            TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    state              TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'running', 'review', 'succeeded', 'failed', 'cancelled')),
    priority           INTEGER NOT NULL DEFAULT 0,          -- lower runs first
    run_at             TEXT    NOT NULL,
    attempt            INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts       INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    lease_owner        TEXT,                                -- workers.id while running
    lease_token        INTEGER NOT NULL DEFAULT 0,          -- bumped by every lease: the fence
    lease_expires_at   TEXT,
    cancel_requested   INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    current_stage      TEXT,                                -- the stage running or last run
    unique_key         TEXT UNIQUE,
    last_error_code    TEXT,
    last_error_message TEXT,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    finished_at        TEXT,
    kind               TEXT    NOT NULL DEFAULT 'video' CHECK (kind IN ('video', 'synthetic')),
    scheduled_at       TEXT,
    CHECK ((state = 'running') = (lease_owner IS NOT NULL)),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);
INSERT INTO jobs_new (id, channel, topic, payload, state, priority, run_at, attempt, max_attempts, lease_owner,
                      lease_token, lease_expires_at, cancel_requested, current_stage, unique_key, last_error_code,
                      last_error_message, created_at, updated_at, finished_at, kind, scheduled_at)
    SELECT id, channel, topic, payload, state, priority, run_at, attempt, max_attempts, lease_owner,
           lease_token, lease_expires_at, cancel_requested, current_stage, unique_key, last_error_code,
           last_error_message, created_at, updated_at, finished_at, kind, scheduled_at
      FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE INDEX jobs_running_expiry ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_lease ON jobs (kind, priority, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_lease_channel ON jobs (kind, channel, priority, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs (kind, channel, run_at) WHERE state = 'queued';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_failed ON jobs (finished_at) WHERE state = 'failed';
CREATE INDEX jobs_failed_channel ON jobs (channel, finished_at) WHERE state = 'failed';
CREATE INDEX jobs_topic ON jobs (channel, topic, created_at);
-- The review page: jobs waiting for review, oldest first.
CREATE INDEX jobs_review ON jobs (updated_at) WHERE state = 'review';

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

CREATE TABLE job_attempts_new (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    lease_token   INTEGER NOT NULL,
    channel       TEXT    NOT NULL,
    worker_id     TEXT    NOT NULL,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    outcome       TEXT CHECK (outcome IN ('succeeded', 'failed', 'retrying', 'handed_back', 'lost', 'cancelled', 'review')),
    stage         TEXT,                                     -- the stage it ended in
    error_code    TEXT,
    error_message TEXT,
    pipeline      TEXT,
    lease_seconds REAL,
    heartbeat_at  TEXT,
    UNIQUE (job_id, lease_token),
    CHECK ((outcome IS NULL) = (finished_at IS NULL))
);
INSERT INTO job_attempts_new (id, job_id, attempt, lease_token, channel, worker_id, started_at, finished_at, outcome,
                              stage, error_code, error_message, pipeline, lease_seconds, heartbeat_at)
    SELECT id, job_id, attempt, lease_token, channel, worker_id, started_at, finished_at, outcome,
           stage, error_code, error_message, pipeline, lease_seconds, heartbeat_at
      FROM job_attempts;
DROP TABLE job_attempts;
ALTER TABLE job_attempts_new RENAME TO job_attempts;
CREATE INDEX job_attempts_started ON job_attempts (started_at);
CREATE INDEX job_attempts_channel_started ON job_attempts (channel, started_at);

-- A job's review: when it last stopped for one, and what an operator decided. A redo deletes
-- the row (what is made again is reviewed again).
CREATE TABLE job_reviews (
    job_id       INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    requested_at TEXT NOT NULL,
    decision     TEXT CHECK (decision IN ('approved', 'rejected')),
    decided_at   TEXT,
    decided_by   TEXT,
    reason       TEXT,
    CHECK ((decision IS NULL) = (decided_at IS NULL)),
    CHECK ((decision = 'rejected') = (reason IS NOT NULL))
);
