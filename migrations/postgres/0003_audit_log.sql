-- Every action an operator takes from the web console (and ytauto-admin's steering commands):
-- who, when, what, on what, and what came of it. Kept apart from the jobs: prune leaves it alone.
CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL,
    actor  text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    detail text
);
CREATE INDEX audit_log_at ON audit_log (at);
