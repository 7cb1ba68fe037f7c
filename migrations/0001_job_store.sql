-- ytauto job store: jobs, their stages, every attempt, and the live workers.
-- Timestamps are UTC ISO-8601 text with milliseconds ('2026-11-25T11:32:03.123Z'),
-- so they sort and compare as text and read without decoding.

CREATE TABLE jobs (
    id                 INTEGER PRIMARY KEY,
    channel            TEXT    NOT NULL,
    topic              TEXT,
    payload            TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    state              TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
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
    CHECK ((state = 'running') = (lease_owner IS NOT NULL)),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);

-- Leasing: the next due queued job by priority, run_at, id.
CREATE INDEX jobs_lease ON jobs (priority, run_at, id) WHERE state = 'queued';
-- Expired leases, and the jobs of a worker found dead.
CREATE INDEX jobs_running_expiry ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_running_owner ON jobs (lease_owner) WHERE state = 'running';
-- list-failed newest first, and prune of finished jobs by age (state IN (...) AND finished_at < ?).
CREATE INDEX jobs_state_finished ON jobs (state, finished_at);
-- The same by channel; per-channel stats.
CREATE INDEX jobs_channel_state ON jobs (channel, state, finished_at);

CREATE TABLE job_stages (
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    stage         TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'skipped')),
    attempt       INTEGER NOT NULL,                         -- the attempt that wrote this row last
    artifacts     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(artifacts)),
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    duration_ms   INTEGER,
    error_code    TEXT,
    error_message TEXT,
    PRIMARY KEY (job_id, stage)
) WITHOUT ROWID;

CREATE TABLE job_attempts (
    id            INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    lease_token   INTEGER NOT NULL,
    channel       TEXT    NOT NULL,
    worker_id     TEXT    NOT NULL,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT,
    outcome       TEXT CHECK (outcome IN ('succeeded', 'failed', 'retrying', 'handed_back', 'lost', 'cancelled')),
    stage         TEXT,                                     -- the stage it ended in
    error_code    TEXT,
    error_message TEXT,
    UNIQUE (job_id, lease_token),
    CHECK ((outcome IS NULL) = (finished_at IS NULL))
);

-- History, newest first, with and without a channel.
CREATE INDEX job_attempts_started ON job_attempts (started_at);
CREATE INDEX job_attempts_channel_started ON job_attempts (channel, started_at);

CREATE TABLE workers (
    id           TEXT    PRIMARY KEY,
    pid          INTEGER NOT NULL,
    hostname     TEXT    NOT NULL,
    lock_path    TEXT    NOT NULL,                          -- held with flock(LOCK_EX) while alive
    state        TEXT    NOT NULL CHECK (state IN ('running', 'stopped', 'dead')),
    started_at   TEXT    NOT NULL,
    last_seen_at TEXT    NOT NULL,
    stopped_at   TEXT
);

CREATE INDEX workers_running ON workers (state) WHERE state = 'running';
