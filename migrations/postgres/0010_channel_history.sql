-- Each channel's recent videos (the media pipeline's ChannelHistory): what a script said and
-- its thumbnail's difference hash, so that the channel's next scripts vary and a near duplicate
-- is stopped before it is published, whichever host made the earlier one. Only the newest
-- entries of a channel are kept (50), so the table stays small. `script` is the script as JSON.
CREATE TABLE channel_history (
    channel        text        NOT NULL,
    job_id         bigint      NOT NULL,         -- may be pruned since
    at             timestamptz NOT NULL,         -- when its script was written
    topic          text        NOT NULL,
    script         text        NOT NULL CHECK (script::jsonb IS NOT NULL),
    thumbnail_hash text,
    PRIMARY KEY (channel, job_id)
);
CREATE INDEX channel_history_newest ON channel_history (channel, at, job_id);
