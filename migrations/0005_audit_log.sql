-- Every action an operator takes from the web console (and ytauto-admin's steering commands):
-- who, when, what, on what, and what came of it. Kept apart from the jobs: prune leaves it alone.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
