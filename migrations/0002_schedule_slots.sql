-- The scheduler's memory: every slot (channel + scheduled instant) it has decided, and how far
-- it has looked. The primary key makes a slot become at most one job, however many schedulers
-- run; the table has no foreign key to jobs, so `prune` of old jobs keeps the slots (and their topics).

CREATE TABLE schedule_slots (
    channel     TEXT    NOT NULL,
    slot_at     TEXT    NOT NULL,                 -- the instant the cron expression fired (UTC)
    expression  TEXT    NOT NULL,                 -- the cron expression that fired
    decision    TEXT    NOT NULL CHECK (decision IN ('enqueued', 'missed', 'no_topic')),
    topic       TEXT,                             -- the topic picked for the job
    job_id      INTEGER,                          -- jobs.id when enqueued (may be pruned since)
    decided_at  TEXT    NOT NULL,
    detail      TEXT,                             -- why a slot was not enqueued
    PRIMARY KEY (channel, slot_at)
) WITHOUT ROWID;

-- Topic recency: the last use of a topic on a channel, from the slots that survive prune.
CREATE INDEX schedule_slots_topic ON schedule_slots (channel, topic, decided_at);

CREATE TABLE schedule_cursors (
    channel         TEXT PRIMARY KEY,
    evaluated_until TEXT NOT NULL                 -- every slot at or before this instant is decided
) WITHOUT ROWID;
