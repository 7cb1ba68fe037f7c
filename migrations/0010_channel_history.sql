-- Each channel's recent videos (the media pipeline's ChannelHistory): what a script said and
-- its thumbnail's difference hash, so that the channel's next scripts vary and a near duplicate
-- is stopped before it is published, whichever worker made the earlier one. Only the newest
-- entries of a channel are kept (50), so the table stays small. `script` is the script as JSON.
-- Before this version each host kept the history in files under <work_dir>/history/.
CREATE TABLE channel_history (
    channel        TEXT    NOT NULL,
    job_id         INTEGER NOT NULL,             -- may be pruned since
    at             TEXT    NOT NULL,             -- when its script was written
    topic          TEXT    NOT NULL,
    script         TEXT    NOT NULL CHECK (json_valid(script)),
    thumbnail_hash TEXT,
    PRIMARY KEY (channel, job_id)
) WITHOUT ROWID;
CREATE INDEX channel_history_newest ON channel_history (channel, at, job_id);
