-- Notes a stage records while it runs, durably, before it goes on: an upload's session URI
-- before the first byte, the video id the moment it is known. A retried stage reads them.
ALTER TABLE job_stages ADD COLUMN notes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(notes));

-- What providers consumed, per day and channel: YouTube API units (its day is the
-- America/Los_Angeles date, when its quota resets), TTS characters, LLM tokens, images (UTC dates).
CREATE TABLE quota_ledger (
    day        TEXT    NOT NULL,                  -- YYYY-MM-DD
    provider   TEXT    NOT NULL,                  -- youtube, openai, anthropic, elevenlabs, ...
    channel    TEXT    NOT NULL,
    unit       TEXT    NOT NULL,                  -- units, characters, tokens, images
    amount     INTEGER NOT NULL DEFAULT 0 CHECK (amount >= 0),
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (day, provider, channel, unit)
) WITHOUT ROWID;
