-- Channels an operator paused (`ytauto-admin pause`, the console): while a channel is here, the
-- scheduler records its slots as `paused` instead of enqueuing them, and workers lease none of its
-- jobs (they stay queued). Resuming deletes the row.
CREATE TABLE channel_pauses (
    channel   TEXT PRIMARY KEY,
    paused_at TEXT NOT NULL,
    paused_by TEXT NOT NULL
) WITHOUT ROWID;

-- A slot of a paused channel is decided `paused`. SQLite cannot change a CHECK in place: the
-- table is made again with the new one (the documented ALTER TABLE procedure), rows kept.
CREATE TABLE schedule_slots_new (
    channel     TEXT    NOT NULL,
    slot_at     TEXT    NOT NULL,                 -- the instant the cron expression fired (UTC)
    expression  TEXT    NOT NULL,                 -- the cron expression that fired
    decision    TEXT    NOT NULL CHECK (decision IN ('enqueued', 'missed', 'no_topic', 'paused')),
    topic       TEXT,                             -- the topic picked for the job
    job_id      INTEGER,                          -- jobs.id when enqueued (may be pruned since)
    decided_at  TEXT    NOT NULL,
    detail      TEXT,                             -- why a slot was not enqueued
    PRIMARY KEY (channel, slot_at)
) WITHOUT ROWID;
INSERT INTO schedule_slots_new (channel, slot_at, expression, decision, topic, job_id, decided_at, detail)
    SELECT channel, slot_at, expression, decision, topic, job_id, decided_at, detail FROM schedule_slots;
DROP TABLE schedule_slots;
ALTER TABLE schedule_slots_new RENAME TO schedule_slots;
CREATE INDEX schedule_slots_topic ON schedule_slots (channel, topic, decided_at);
