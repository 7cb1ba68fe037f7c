-- Where the schedulers stopped looking, per schedule entry of a channel: a scheduler still on an
-- older configuration (a host not yet updated, a manual `--once` beside the systemd unit) moves
-- the cursors of its own entries only, so the slots of an entry it does not have are still
-- decided by a scheduler that has it. schedule_cursors keeps the channel's latest, for
-- `scheduler --once --now` and `ytauto-admin`. A channel with no row here (a database from
-- before this version) starts each entry at its channel cursor, once; an entry added later
-- starts at its first look, as a new channel does.
CREATE TABLE schedule_expression_cursors (
    channel         text        NOT NULL,
    expression      text        NOT NULL,
    evaluated_until timestamptz NOT NULL,
    PRIMARY KEY (channel, expression)
);
