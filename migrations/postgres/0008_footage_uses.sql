-- Stock footage each channel used (Pexels, Pixabay): a clip or photo is not used again on the
-- same channel within its `footage_reuse_days`. One row a channel and asset; a later use moves
-- used_at (and job_id) forward. `asset` is `provider:kind:id`, e.g. `pexels:clip:1448735`.
CREATE TABLE footage_uses (
    channel text        NOT NULL,
    asset   text        NOT NULL,
    job_id  bigint      NOT NULL,                 -- the job that used it last (may be pruned since)
    used_at timestamptz NOT NULL,
    PRIMARY KEY (channel, asset)
);
