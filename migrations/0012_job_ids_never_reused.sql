-- A job's id is never given twice. SQLite gives a new row the highest id in the table + 1, so
-- once prune had deleted the newest jobs the next job took a pruned job's id, and the schedule's
-- slots, the audit log, the channel history and the output folder that named the old job named
-- the new one (its video was written over the old one's). The highest id a deleted job had is
-- kept here, raised by the trigger as jobs are deleted, and a new job's id is one more than the
-- higher of it and the table's own (SQLiteJobStore.SQL.insertJob). PostgreSQL's identity never
-- goes back, so its schema has no such table.
CREATE TABLE job_id_high (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    high INTEGER NOT NULL
);
INSERT INTO job_id_high (one, high) VALUES (1, 0);

CREATE TRIGGER job_id_high_on_delete AFTER DELETE ON jobs
WHEN OLD.id > (SELECT high FROM job_id_high WHERE one = 1)
BEGIN
    UPDATE job_id_high SET high = OLD.id WHERE one = 1;
END;
