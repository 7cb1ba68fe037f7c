-- Failed jobs by their last error's code, newest first (`ytauto-admin list-failed --code`, and
-- the workers' look every 30 s for jobs that failed `work.stuck`): without these each read every
-- failed job of the window to keep the few of one code.
CREATE INDEX jobs_failed_code ON jobs (last_error_code, finished_at) WHERE state = 'failed';
CREATE INDEX jobs_failed_channel_code ON jobs (channel, last_error_code, finished_at) WHERE state = 'failed';
