# Two databases on a PostgreSQL server at 127.0.0.1:55432 (role ytauto): "ours" with ytauto's schema and
# N queued synthetic jobs, "min" with the minimal queue's table and N queued rows (docs/benchmarks.md).
B=/usr/lib/postgresql/15/bin; P="$B/psql -q -h 127.0.0.1 -p 55432 -U ytauto"
N=${N:-60000}
$P -d postgres -c "DROP DATABASE IF EXISTS ours" -c "DROP DATABASE IF EXISTS min" -c "CREATE DATABASE ours" -c "CREATE DATABASE min"
for f in "$(dirname "$0")"/../../../migrations/postgres/*.sql; do $P -d ours -v ON_ERROR_STOP=1 -f "$f" || exit 1; done
$P -d ours -c "INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at) SELECT 'c1', 't'||i, '{}', 'queued', 0, now() - interval '1 hour', 3, now(), now(), 'synthetic', now() FROM generate_series(1,$N) i" -c "ANALYZE jobs" -c "ANALYZE job_attempts"
$P -d min -c "CREATE TABLE mq (id bigserial PRIMARY KEY, state text NOT NULL, priority integer NOT NULL, run_at timestamptz NOT NULL)" -c "CREATE INDEX mq_lease ON mq (priority, run_at, id) WHERE state = 'queued'" -c "INSERT INTO mq (state, priority, run_at) SELECT 'queued', 0, now() - interval '1 hour' FROM generate_series(1,$N)" -c "ANALYZE mq"
$P -d postgres -c CHECKPOINT
