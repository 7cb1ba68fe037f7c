-- The topics of pruned video jobs that no schedule slot names (a job `ytauto enqueue` made), so
-- that a topic stays used for its channel's topic_recency_days however soon its job is pruned.
-- A slot keeps its own topic past prune (schedule_slots), and the job was the only record of the
-- others: before this version, pruning it freed its topic at once. One row a channel and topic:
-- how many such jobs were pruned and when the newest of them was made (jobs.created_at, the time
-- the topic choice counts from). The trigger fills it as prune deletes jobs.
CREATE TABLE pruned_topic_uses (
    channel      TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    uses         INTEGER NOT NULL CHECK (uses > 0),
    last_used_at TEXT    NOT NULL,
    PRIMARY KEY (channel, topic)
) WITHOUT ROWID;

-- Which slot named a job: the trigger's question, an index seek, not a scan of every slot.
CREATE INDEX schedule_slots_job ON schedule_slots (job_id) WHERE job_id IS NOT NULL;

CREATE TRIGGER pruned_topic_use AFTER DELETE ON jobs
WHEN OLD.kind = 'video' AND OLD.topic IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM schedule_slots WHERE job_id = OLD.id)
BEGIN
    INSERT INTO pruned_topic_uses (channel, topic, uses, last_used_at) VALUES (OLD.channel, OLD.topic, 1, OLD.created_at)
    ON CONFLICT (channel, topic) DO UPDATE SET uses = uses + 1, last_used_at = max(last_used_at, excluded.last_used_at);
END;
