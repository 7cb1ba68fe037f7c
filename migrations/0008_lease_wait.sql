-- Lease wait: when an attempt's job was due (its run_at when it was leased), so the time a job
-- waited for a worker is started_at - due_at (the console's /metrics ytauto_lease_wait_seconds,
-- and plain SQL). NULL for attempts recorded before this version.
ALTER TABLE job_attempts ADD COLUMN due_at TEXT;
