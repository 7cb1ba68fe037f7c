-- Channels an operator paused (`ytauto-admin pause`, the console): while a channel is here, the
-- scheduler records its slots as `paused` instead of enqueuing them, and workers lease none of its
-- jobs (they stay queued). Resuming deletes the row.
CREATE TABLE channel_pauses (
    channel   text PRIMARY KEY,
    paused_at timestamptz NOT NULL,
    paused_by text NOT NULL
);

-- A slot of a paused channel is decided `paused`.
ALTER TABLE schedule_slots DROP CONSTRAINT schedule_slots_decision_check;
ALTER TABLE schedule_slots ADD CONSTRAINT schedule_slots_decision_check
    CHECK (decision IN ('enqueued', 'missed', 'no_topic', 'paused'));
