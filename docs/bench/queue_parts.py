"""What each part of the SQLite queue's bookkeeping costs (docs/benchmarks.md).

Usage: ytauto-admin migrate --db /tmp/schema.db && python3 docs/bench/queue_parts.py /tmp/schema.db

One process, no contention: the store's schema (copied from a migrated file) with parts left
out, the lease and completion statements of SQLiteJobStore.SQL, and the minimal queue.
The lease here is the store's as of 2026-12-01 to 12-04 (the figures of those days): since
2026-12-05 the store's lease skips priority levels with no due job, which costs the same when the
queue's first job is due, as here. docs/bench/queue_parts.c holds the current text (BenchCopyTests).
"""
import sqlite3, time, sys, os, shutil
SCHEMA_DB = sys.argv[1]  # a database made by `ytauto-admin migrate --db PATH`
def setup(path, drop=(), page=4096, rowless=False):
    for ext in ("", "-wal", "-shm"):
        try: os.remove(path+ext)
        except FileNotFoundError: pass
    src = sqlite3.connect(SCHEMA_DB)
    ddl = [r[0] for r in src.execute("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END")]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size={page}")
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL"); db.execute("PRAGMA wal_autocheckpoint=10000")
    for d in ddl:
        name = d.split()[2] if d.startswith("CREATE INDEX") or d.startswith("CREATE TRIGGER") else None
        if name and name in drop: continue
        db.execute(d)
    if rowless:  # job_attempts keyed by (job_id, lease_token), without its rowid, one time index
        ddl = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'job_attempts'").fetchone()[0]
        for (n,) in db.execute("SELECT name FROM sqlite_schema WHERE tbl_name = 'job_attempts' AND type = 'index' AND sql IS NOT NULL").fetchall():
            db.execute(f"DROP INDEX {n}")
        deps = db.execute("SELECT type, name, sql FROM sqlite_schema WHERE type IN ('view', 'trigger') AND sql LIKE '%job_attempts%'").fetchall()
        for t, n, _ in deps: db.execute(f"DROP {t.upper()} {n}")
        db.execute("DROP TABLE job_attempts")
        new = ddl.replace("id            INTEGER PRIMARY KEY,\n", "").replace("UNIQUE (job_id, lease_token)", "PRIMARY KEY (job_id, lease_token)")
        db.execute(new.rstrip()[:-1] + ") WITHOUT ROWID")
        db.execute("CREATE INDEX job_attempts_started ON job_attempts (started_at)")
        for _, _, sql in deps: db.execute(sql)
    return db
def run(db, n=20000, backlog=1000, attempts=True, by_channel=False, merged=False):
    now="2026-12-01T00:00:00.000Z"
    db.execute("BEGIN")
    for i in range(backlog+n):
        db.execute("INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at) VALUES ('c1','t','{}','queued',0,?,3,?,?, 'synthetic', ?)", (now, now, now, now))
    db.execute("COMMIT")
    IDX = "jobs_lease_channel" if by_channel else "jobs_lease"
    CH = "AND channel = 'c1'" if by_channel else ""
    lease = """UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_token = lease_token + 1, lease_expires_at = ?2, updated_at = ?3
      WHERE id = (SELECT id FROM jobs INDEXED BY {IDX} WHERE state = 'queued' AND kind = ?4 {CH} AND run_at <= ?3 ORDER BY priority, run_at, id LIMIT 1) RETURNING id, attempt, lease_token""".replace("{IDX}", IDX).replace("{CH}", CH)
    ins = "INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, pipeline, lease_seconds, heartbeat_at, due_at) VALUES (?1, ?2, ?3, 'c1', 'w', ?4, 'p', 30, ?4, ?4)"
    comp = "UPDATE jobs SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = ?1, updated_at = ?1, last_error_code = NULL, last_error_message = NULL WHERE id = ?2 AND state = 'running' AND lease_token = ?3 AND lease_owner = 'w' RETURNING id"
    fin = "UPDATE job_attempts SET finished_at = ?1, outcome = 'succeeded' WHERE job_id = ?2 AND lease_token = ?3"
    def take():
        r = db.execute(lease, ("w", "2026-12-01T01:00:00.000Z", "2026-12-01T00:00:01.000Z", "synthetic")).fetchone()
        if attempts: db.execute(ins, (r[0], r[1], r[2], "2026-12-01T00:00:01.000Z"))
        return r
    def finish(r):
        db.execute(comp, ("2026-12-01T00:00:02.000Z", r[0], r[2])).fetchone()
        if attempts: db.execute(fin, ("2026-12-01T00:00:02.000Z", r[0], r[2]))
    t=time.time()
    if merged:  # a completion and the next lease in one transaction (the last lease is left running)
        db.execute("BEGIN IMMEDIATE"); r = take(); db.execute("COMMIT")
        for i in range(n):
            db.execute("BEGIN IMMEDIATE"); finish(r); r = take(); db.execute("COMMIT")
        return n/(time.time()-t)
    for i in range(n):
        db.execute("BEGIN IMMEDIATE"); r = take(); db.execute("COMMIT")
        db.execute("BEGIN IMMEDIATE"); finish(r); db.execute("COMMIT")
    return n/(time.time()-t)
def minimal(path, n=20000, backlog=1000, page=4096):
    for ext in ("", "-wal", "-shm"):
        try: os.remove(path+ext)
        except FileNotFoundError: pass
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size={page}")
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE q (id INTEGER PRIMARY KEY, state TEXT, run_at TEXT, body TEXT)")
    db.execute("CREATE INDEX q_lease ON q (run_at, id) WHERE state='queued'")
    db.execute("BEGIN")
    for i in range(backlog+n): db.execute("INSERT INTO q (state, run_at, body) VALUES ('queued', '2026', '{}')")
    db.execute("COMMIT")
    t=time.time()
    for i in range(n):
        r = db.execute("UPDATE q SET state='running' WHERE id = (SELECT id FROM q WHERE state='queued' AND run_at <= '2027' ORDER BY run_at, id LIMIT 1) RETURNING id").fetchone()
        db.execute("UPDATE q SET state='done' WHERE id=?", (r[0],))
    return n/(time.time()-t)

def frames(kw, **rk):
    """WAL frames written per job (the -wal file's growth with checkpoints off)."""
    db = setup(P, **kw); db.execute("PRAGMA wal_autocheckpoint=0")
    run(db, n=0, backlog=3000)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    t = time.time(); run(db, n=2000, backlog=0, **rk)
    return os.path.getsize(P + "-wal") / (page + 24) / 2000

def pages_of_one_job():
    """The B-trees whose pages one lease and one completion write into the WAL (dbstat names each page)."""
    import struct
    db = setup(P); db.execute("PRAGMA wal_autocheckpoint=0")
    run(db, n=200, backlog=3000)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    names = {pageno: name for name, pageno in db.execute("SELECT name, pageno FROM dbstat")}
    run(db, n=1, backlog=-1)  # one more job's life cycle, nothing inserted
    data, page = open(P + "-wal", "rb").read(), db.execute("PRAGMA page_size").fetchone()[0]
    transactions, current = [], []
    for off in range(32, len(data) - 23, page + 24):
        pageno, commit = struct.unpack(">II", data[off:off + 8])
        current.append(names.get(pageno, f"page {pageno}"))
        if commit: transactions.append(current); current = []
    return transactions

P = os.path.join(os.path.dirname(os.path.abspath(SCHEMA_DB)), "queue_parts.db")
COUNTS = {"jobs_count_update", "jobs_count_insert", "jobs_count_delete"}
variants = [
    ("ours, as shipped", {}, {}),
    ("without the attempt rows", {}, dict(attempts=False)),
    ("without the job_counts triggers", dict(drop=COUNTS), {}),
    ("without jobs_due", dict(drop={"jobs_due"}), {}),
    ("without jobs_lease_channel", dict(drop={"jobs_lease_channel"}), {}),
    ("without jobs_finished", dict(drop={"jobs_finished"}), {}),
    ("without the job_attempts time indexes", dict(drop={"job_attempts_started", "job_attempts_channel_started"}), {}),
    ("1 KB pages", dict(page=1024), {}),
    ("1 KB pages, lease by channel, no jobs_due", dict(page=1024, drop={"jobs_due", "jobs_lease"}), dict(by_channel=True)),
    ("a completion and the next lease in one transaction", {}, dict(merged=True)),
    ("merged, attempts without rowid, no jobs_due", dict(drop={"jobs_due"}, rowless=True), dict(merged=True)),
    ("merged, without the attempt rows", {}, dict(merged=True, attempts=False)),
]
for name, kw, rk in variants:
    print(f"{name:45s} {run(setup(P, **kw), **rk):8.0f} jobs/s", flush=True)
print(f"{'frames a job, as shipped':45s} {frames({}):8.1f}")
print(f"{'frames a job, completion and lease merged':45s} {frames({}, merged=True):8.1f}")
for what, trees in zip(("lease", "completion"), pages_of_one_job()):
    print(f"pages a {what}: {len(trees)}: {', '.join(sorted(trees))}")
print(f"{'minimal queue, 4 KB / 1 KB pages':45s} {minimal(P):8.0f} / {minimal(P, page=1024):.0f} jobs/s")
for ext in ("", "-wal", "-shm"):
    try: os.remove(P + ext)
    except FileNotFoundError: pass
