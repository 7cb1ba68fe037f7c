import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import YTAutoCore
import YTAutoPostgres

/// `ytauto-bench queue --db postgres://…`: the life cycle through the PostgreSQL store with P real
/// processes, against a minimal queue on the same server in the same run: one table, one partial
/// index, one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` to lease and one
/// `UPDATE` to complete, autocommit, over the same client library. For each backlog (jobs already
/// queued before timing), each side runs `--jobs` jobs on a database of its own, created on the
/// server beside the URL's (`<db>_bench_ours`, `<db>_bench_minimal`; the role needs CREATEDB) and
/// dropped after.
struct PostgresQueueBench {
    let url: PostgresURL
    let processes: Int
    let jobs: Int
    let stages: Int
    let backlogs: [Int]
    let separateLease: Bool
    let slots: Int

    func run() async throws {
        print("ytauto-bench queue on \(url.redacted): \(processes) processes (ours with \(slots) slots each), \(jobs) jobs a run, \(stages) stages, "
            + "\(ProcessInfo.processInfo.activeProcessorCount) cores" + (separateLease ? ", completion and lease apart" : ""))
        print("")
        print("backlog      ours jobs/s  minimal jobs/s  ratio   ours lease p50 / p99     minimal lease p50 / p99   shares (ours)")
        for backlog in backlogs {
            let ours = try await side("ours", backlog: backlog)
            let minimal = try await side("minimal", backlog: backlog)
            print(String(backlog).leftPad(9)
                + "  " + fmt(Double(jobs) / ours.seconds, 0).leftPad(11)
                + "  " + fmt(Double(jobs) / minimal.seconds, 0).leftPad(14)
                + "  " + fmt(minimal.seconds / ours.seconds, 2).leftPad(5)
                + "   " + "\(fmt(percentile(ours.leaseMS, 50), 2)) / \(fmt(percentile(ours.leaseMS, 99), 2)) ms".leftPad(20)
                + "   " + "\(fmt(percentile(minimal.leaseMS, 50), 2)) / \(fmt(percentile(minimal.leaseMS, 99), 2)) ms".leftPad(22)
                + "   " + ours.shares.map { fmt(Double($0) / Double(jobs) * 100, 1) + "%" }.joined(separator: " / "))
        }
        print("ratio: minimal's time / ours (goal at --stages 0: at least 0.50)")
    }

    func database(_ name: String) async throws -> PostgresURL { try await createBenchDatabase(beside: url, name: name) }
    func drop(_ target: PostgresURL) async throws { try await dropBenchDatabase(target, via: url) }

    func side(_ mode: String, backlog: Int) async throws -> QueueBench.Result {
        let target = try await database(mode)
        defer { Task { try? await drop(target) } }
        let conn = try await connect(target)
        if mode == "ours" {
            try await PostgresJobStore(url: target).close()  // the schema
            // The backlog: queued jobs, due, inserted in one statement (the store's own enqueue
            // makes the timed jobs below).
            try await conn.query(PostgresQuery(unsafeSQL: """
                INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
                SELECT 'c' || (g % 3), 'backlog ' || g, '{}', 'queued', 1, now(), 3, now(), now(), 'video', now()
                  FROM generate_series(1, \(backlog)) AS g
                """), logger: quiet)
            let store = try await PostgresJobStore(url: target, migrate: false)
            for i in 0..<jobs { _ = try await store.enqueue(NewJob(channel: "c\(i % 3)", topic: "t\(i)")) }
            store.close()
        } else {
            try await conn.query("""
                CREATE TABLE mq (id bigserial PRIMARY KEY, state text NOT NULL, priority integer NOT NULL, run_at timestamptz NOT NULL)
                """, logger: quiet)
            try await conn.query("CREATE INDEX mq_lease ON mq (priority, run_at, id) WHERE state = 'queued'", logger: quiet)
            try await conn.query(PostgresQuery(unsafeSQL: """
                INSERT INTO mq (state, priority, run_at) SELECT 'queued', 1, now() FROM generate_series(1, \(backlog))
                """), logger: quiet)
            try await conn.query(PostgresQuery(unsafeSQL: """
                INSERT INTO mq (state, priority, run_at) SELECT 'queued', 0, now() FROM generate_series(1, \(jobs))
                """), logger: quiet)
        }
        // Statistics of the queue's tables, as autovacuum gathers after such inserts; small tables
        // that rarely change (channel_pauses) keep none, as on an operator's server.
        try await conn.query(PostgresQuery(unsafeSQL: mode == "ours" ? "ANALYZE jobs, job_attempts" : "ANALYZE mq"), logger: quiet)
        // Each side's timing starts from a checkpoint, so that neither pays in its timed run for
        // the WAL of its fill (a million rows of ours passed max_wal_size's 1 GB, and the checkpoint
        // it set off fell in our timed run). CHECKPOINT needs a superuser or pg_checkpoint.
        do {
            try await conn.query("CHECKPOINT", logger: quiet)
        } catch {
            print("  (no CHECKPOINT before the \(mode) run, the role may not: \(String(reflecting: error).prefix(200)); its timing may include its fill's checkpoint)")
        }
        try await conn.close()
        let folder = FileManager.default.temporaryDirectory.appending(path: "ytauto-bench-pg-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let go = folder.appending(path: "go-\(mode)-\(backlog)").path
        let perProcess = jobs / processes
        let children = try (0..<processes).map { i in
            try Spawned(Binaries.path("ytauto-bench"), ["queue-child", "--mode", "pg-\(mode)", "--db", benchURLText(target),
                                                        "--stages", String(stages), "--go", go, "--name", "\(mode)-\(i)",
                                                        "--max-jobs", String(i == processes - 1 ? jobs - perProcess * (processes - 1) : perProcess),
                                                        "--slots", String(mode == "ours" ? slots : 1)]
                                                       + (separateLease && mode == "ours" ? ["--separate-lease"] : []))
        }
        try await Task.sleep(for: .milliseconds(1500))  // let them connect
        let start = ContinuousClock.now
        guard FileManager.default.createFile(atPath: go, contents: nil) else { throw BenchError("cannot create \(go)") }
        let (lease, shares) = try await QueueBench.gather(children, mode: mode)
        let seconds = (ContinuousClock.now - start).seconds
        guard shares.reduce(0, +) == jobs else { throw BenchError("\(mode): \(shares.reduce(0, +)) jobs done of \(jobs)") }
        return QueueBench.Result(seconds: seconds, leaseMS: lease, shares: shares)
    }
}

/// A database of its own for one benchmark run, created on the server beside `url`'s
/// (`<db>_bench_<name>`; dropped first if a run left it over). The role needs CREATEDB.
func createBenchDatabase(beside url: PostgresURL, name: String) async throws -> PostgresURL {
    let admin = try await connect(url)
    defer { Task { try? await admin.close() } }
    let db = "\(url.database)_bench_\(name)"
    try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(db) WITH (FORCE)"), logger: quiet)
    try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(db)"), logger: quiet)
    return try PostgresURL(benchURLText(url, database: db))
}

func dropBenchDatabase(_ target: PostgresURL, via url: PostgresURL) async throws {
    let admin = try await connect(url)
    try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(target.database) WITH (FORCE)"), logger: quiet)
    try await admin.close()
}

/// `url` as text for a child's `--db` or `YTAUTO_DB`, without its password (the children take it
/// from `PGPASSWORD`, as this process did).
func benchURLText(_ url: PostgresURL, database: String? = nil) -> String {
    "postgres://\(url.user)@\(url.host):\(url.port)/\(database ?? url.database)?sslmode=\(url.sslMode.rawValue)"
}

let quiet = Logger(label: "ytauto-bench", factory: { _ in SwiftLogNoOpLogHandler() })

func connect(_ url: PostgresURL) async throws -> PostgresConnection {
    var c = PostgresConnection.Configuration(host: url.host, port: url.port, username: url.user, password: ProcessInfo.processInfo.environment["PGPASSWORD"],
                                             database: url.database, tls: .disable)
    c.options.connectTimeout = .seconds(10)
    return try await PostgresConnection.connect(configuration: c, id: 0, logger: quiet)
}

/// A child of the PostgreSQL benchmark: `pg-ours` through the store, `pg-minimal` the minimal queue.
func postgresChildLoop(mode: String, db: String, name: String, stages: Int, maxJobs: Int, slots: Int, handOver: Bool, leaseMS: inout [Double]) async throws -> Int {
    let url = try PostgresURL(db)
    var completed = 0
    if mode == "pg-ours" {
        let store = try await PostgresJobStore(url: url, migrate: false, maximumConnections: 2)
        defer { store.close() }
        let done = try await lifeCycles(store, slots: slots, name: name, stages: (0..<stages).map { "stage\($0)" }, maxJobs: maxJobs, handOver: handOver)
        leaseMS = done.leaseMS
        return done.completed
    }
    let conn = try await connect(url)
    defer { Task { try? await conn.close() } }
    while completed < maxJobs {
        let t = ContinuousClock.now
        var id: Int64? = nil
        for try await row in try await conn.query("""
            UPDATE mq SET state = 'running'
             WHERE id = (SELECT id FROM mq WHERE state = 'queued' AND run_at <= now() ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id
            """, logger: quiet) {
            id = try row.decode(Int64.self)
        }
        guard let id else { break }
        leaseMS.append((ContinuousClock.now - t).seconds * 1000)
        try await conn.query("UPDATE mq SET state = 'done' WHERE id = \(id)", logger: quiet)
        completed += 1
    }
    return completed
}
