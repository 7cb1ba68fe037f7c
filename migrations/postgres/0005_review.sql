-- Review before publish: a job of a channel with `review: true` stops before its publish stage
-- in the new state 'review', held by no worker, until an operator approves it (queued again) or
-- rejects it (cancelled). Its attempt ends with the new outcome 'review' (not counted).
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('queued', 'running', 'review', 'succeeded', 'failed', 'cancelled'));
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_outcome_check;
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_outcome_check
    CHECK (outcome IN ('succeeded', 'failed', 'retrying', 'handed_back', 'lost', 'cancelled', 'review'));
-- The review page: jobs waiting for review, oldest first.
CREATE INDEX jobs_review ON jobs (updated_at) WHERE state = 'review';

-- A job's review: when it last stopped for one, and what an operator decided. A redo deletes
-- the row (what is made again is reviewed again).
CREATE TABLE job_reviews (
    job_id       bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    requested_at timestamptz NOT NULL,
    decision     text CHECK (decision IN ('approved', 'rejected')),
    decided_at   timestamptz,
    decided_by   text,
    reason       text,
    CHECK ((decision IS NULL) = (decided_at IS NULL)),
    CHECK ((decision = 'rejected') = (reason IS NOT NULL))
);
