-- The topics of pruned video jobs that no schedule slot names (a job `ytauto enqueue` made), so
-- that a topic stays used for its channel's topic_recency_days however soon its job is pruned.
-- A slot keeps its own topic past prune (schedule_slots), and the job was the only record of the
-- others: before this version, pruning it freed its topic at once. One row a channel and topic:
-- how many such jobs were pruned and when the newest of them was made (jobs.created_at, the time
-- the topic choice counts from). The trigger fills it as prune deletes jobs, once a statement
-- (prune deletes a batch a statement), hosts pruning at once adding to the same row.
CREATE TABLE pruned_topic_uses (
    channel      text        NOT NULL,
    topic        text        NOT NULL,
    uses         bigint      NOT NULL CHECK (uses > 0),
    last_used_at timestamptz NOT NULL,
    PRIMARY KEY (channel, topic)
);

-- Which slot named a job: the trigger's question, an index seek, not a scan of every slot.
CREATE INDEX schedule_slots_job ON schedule_slots (job_id) WHERE job_id IS NOT NULL;

CREATE FUNCTION ytauto_pruned_topic_uses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pruned_topic_uses (channel, topic, uses, last_used_at)
    SELECT g.channel, g.topic, count(*), max(g.created_at) FROM gone g
     WHERE g.kind = 'video' AND g.topic IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM schedule_slots s WHERE s.job_id = g.id)
     GROUP BY g.channel, g.topic
    ON CONFLICT (channel, topic) DO UPDATE SET uses = pruned_topic_uses.uses + excluded.uses,
                                               last_used_at = greatest(pruned_topic_uses.last_used_at, excluded.last_used_at);
    RETURN NULL;
END $$;

CREATE TRIGGER pruned_topic_uses AFTER DELETE ON jobs REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT EXECUTE FUNCTION ytauto_pruned_topic_uses();
