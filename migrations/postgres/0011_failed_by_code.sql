-- Failed jobs by their last error's code, newest first (`ytauto-admin list-failed --code`, and
-- the workers' look every 30 s for jobs that failed `work.stuck`): without these each read every
-- failed job of the window to keep the few of one code. `IF NOT EXISTS`: an operator with a big
-- table may build them beforehand without blocking writes (on PostgreSQL, `CREATE INDEX
-- CONCURRENTLY`, docs/postgresql.md), and the migration then finds them.
CREATE INDEX IF NOT EXISTS jobs_failed_code ON jobs (last_error_code, finished_at) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS jobs_failed_channel_code ON jobs (channel, last_error_code, finished_at) WHERE state = 'failed';
