#!/bin/bash
# The console under load on PostgreSQL: 1,000,000 finished jobs, 30,000 queued synthetic ones run by 4 workers,
# measured with wrk, beside nginx serving the same pages' bytes as static files (docs/benchmarks.md).
# Needs root (it runs PostgreSQL as the postgres user), postgresql, wrk, nginx-light and curl.
set -e
BIN=${BIN:-$(pwd)/.build/release}   # run from the repository root after: swift build -c release --product ytauto
D=/tmp/pgload
PORT=55440
rm -rf $D && mkdir -p $D && chown postgres $D
su postgres -c "/usr/lib/postgresql/15/bin/initdb -D $D/data -A trust -U postgres" > $D/initdb.log
su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $D/data -o '-p $PORT -k $D -c listen_addresses=127.0.0.1' -l $D/pg.log start" > /dev/null
sleep 2
su postgres -c "psql -h $D -p $PORT -c \"CREATE ROLE ytauto LOGIN\" -c \"CREATE DATABASE load OWNER ytauto\"" > /dev/null
export YTAUTO_DB=postgres://ytauto@127.0.0.1:$PORT/load
cd $D
cat > ytauto.yaml <<'Y'
channels:
  - name: facts-shorts
    type: facts
    format: short
Y
export YTAUTO_CONFIG=$D/ytauto.yaml
$BIN/ytauto init > /dev/null
su postgres -c "psql -q -h $D -p $PORT load" <<'SQL'
INSERT INTO jobs (channel, topic, payload, state, priority, run_at, attempt, max_attempts, created_at, updated_at,
                  finished_at, kind, scheduled_at, last_error_code)
SELECT 'facts-shorts', 'topic ' || i, '{}', CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END, 0, t, 1, 3, t, t, t,
       'video', t, CASE WHEN i % 20 = 0 THEN 'provider.rate_limited' END
  FROM (SELECT i, date_trunc('milliseconds', now()) - (i % 43200) * interval '1 minute' AS t FROM generate_series(1, 1000000) AS i) g;
INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
SELECT 'facts-shorts', 'synthetic ' || i, '{}', 'queued', 0, now(), 3, now(), now(), 'synthetic', now() FROM generate_series(1, 30000) AS i;
ANALYZE;
SQL
for w in 1 2 3 4; do $BIN/ytauto worker --synthetic-stage-ms 20 --concurrency 2 > $D/worker$w.log 2>&1 & done
$BIN/ytauto web --listen 127.0.0.1:18090 > $D/web.log 2>&1 &
sleep 5
curl -s http://127.0.0.1:18090/ > $D/overview.html
curl -s http://127.0.0.1:18090/jobs > $D/jobs.html
wc -c $D/overview.html $D/jobs.html
# nginx serving the same bytes from files: the floor for serving these pages, outside our code.
mkdir -p $D/www && cp $D/overview.html $D/www/index.html && cp $D/jobs.html $D/www/jobs.html
cat > $D/nginx.conf <<N
worker_processes 1;
pid $D/nginx.pid;
error_log $D/nginx-error.log;
events { worker_connections 256; }
http { access_log off; server { listen 127.0.0.1:18091; root $D/www; location = /jobs { default_type text/html; try_files /jobs.html =404; } } }
N
nginx -c $D/nginx.conf
sleep 1
run() { echo "== $*"; wrk "$@" | grep -E "50%|99%|Requests/sec|Non-2xx|errors"; }
for round in 1 2; do
  run -t1 -c1 -d15s --latency http://127.0.0.1:18090/
  run -t2 -c4 -d15s --latency http://127.0.0.1:18090/
  run -t1 -c1 -d15s --latency http://127.0.0.1:18090/jobs
  run -t2 -c4 -d15s --latency http://127.0.0.1:18090/jobs
  run -t2 -c4 -d15s --latency "http://127.0.0.1:18090/jobs?state=failed"
  run -t2 -c4 -d15s --latency http://127.0.0.1:18091/
  run -t2 -c4 -d15s --latency http://127.0.0.1:18091/jobs
done
echo "== jobs done by the workers meanwhile:"
su postgres -c "psql -h $D -p $PORT load -Atc \"SELECT state, count(*) FROM jobs WHERE kind = 'synthetic' GROUP BY state\""
nginx -c $D/nginx.conf -s stop
pkill -f "ytauto web --listen 127.0.0.1:18090" || true
pkill -f "ytauto worker --synthetic-stage-ms 20" || true
sleep 2
su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $D/data stop" > /dev/null
