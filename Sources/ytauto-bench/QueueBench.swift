import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoPostgres
import YTAutoStore
import YTAutoWorker

/// `ytauto-bench queue`: the whole job life cycle on one file with P real processes, against the
/// same SQL statements issued straight through CSQLite in the same run.
struct QueueBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Jobs per second through the store (enqueue, lease, a checkpoint per stage, complete) against raw CSQLite.",
        discussion: """
            Ours: P processes run the life cycle through SQLiteJobStore (BEGIN IMMEDIATE, fencing checks, \
            the <db>-wake hand-over of the write lock) on the file's database thread, as a worker does. The ceiling: P processes issue the store's own \
            statements (SQLiteJobStore.SQL, each prepared once) through CSQLite with SQLite's own busy \
            handler and nothing else. Both on fresh files in the same run. Also: the \
            enqueue rate (from the database thread and from a plain Swift task), lease latency p50/p99, each process's share of the jobs, and list-failed and \
            history latency on a table of --history-rows rows. Then the backlog table: for each of --backlogs, that many jobs \
            queued before timing, and --jobs jobs timed through ours (--stages 0: lease and complete) and through a minimal \
            queue written apart from ours (one table, one partial index, one UPDATE … RETURNING to lease and one UPDATE to \
            complete, autocommit, through CSQLite), each on a fresh file.
            """)

    @Option(help: "Worker processes.") var processes = 4
    @Option(help: "Jobs.") var jobs = 2000
    @Option(help: "Stages per job (one checkpoint each).") var stages = 7
    @Option(help: "Rows in the tables for the list-failed and history query timings (0 skips them).") var historyRows = 1_000_000
    @Option(help: "Folder for the databases (default: a temporary one, removed after).") var dir: String?
    @Option(help: "Backlogs (jobs queued before timing) for the backlog table, comma-separated; empty skips it.")
    var backlogs = "1000,100000,1000000"
    @Option(help: ArgumentHelp("A postgres:// URL: measure the PostgreSQL store against a minimal queue on that server instead (its role needs CREATEDB: the runs use databases of their own beside it).", valueName: "url"))
    var db: String?
    @Flag(help: "Complete each job and lease the next in two steps, as workers did before a completion handed its slot over (for comparison).")
    var separateLease = false
    @Option(help: "Jobs each of our processes runs at once, as a worker's slots (its `concurrency`, 2 by default), its writes grouped as a worker's are (shared commits on SQLite, shared statements on PostgreSQL); the raw and minimal loops run one.")
    var slots = QueueWorkerConfiguration().concurrency

    func validate() throws {
        guard (1...64).contains(processes) else { throw ValidationError("--processes must be within 1...64") }
        guard (1...64).contains(slots) else { throw ValidationError("--slots must be within 1...64") }
        guard (1...10_000_000).contains(jobs) else { throw ValidationError("--jobs must be within 1...10000000") }
        guard (0...100).contains(stages) else { throw ValidationError("--stages must be within 0...100") }
        guard (0...10_000_000).contains(historyRows) else { throw ValidationError("--history-rows must be within 0...10000000") }
        guard parsedBacklogs != nil else { throw ValidationError("--backlogs '\(backlogs)' is not a list of counts within 0...10000000 such as 1000,100000") }
    }

    var parsedBacklogs: [Int]? {
        if backlogs.isEmpty { return [] }
        let parts = backlogs.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ $0 != nil && (0...10_000_000).contains($0!) }) else { return nil }
        return parts.map { $0! }
    }

    func run() async throws {
        if let db {
            guard PostgresURL.isPostgres(db) else { throw ValidationError("--db takes a postgres:// URL (SQLite runs need no --db)") }
            try await PostgresQueueBench(url: try PostgresURL(db), processes: processes, jobs: jobs, stages: stages,
                                         backlogs: parsedBacklogs?.isEmpty == false ? parsedBacklogs! : [1000], separateLease: separateLease, slots: slots).run()
            return
        }
        let folder = dir.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appending(path: "ytauto-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if dir == nil { try? FileManager.default.removeItem(at: folder) } }
        print("ytauto-bench queue: \(processes) processes, \(jobs) jobs, \(stages) stages (\(separateLease ? stages + 2 : stages + 1) write transactions a job), \(ProcessInfo.processInfo.activeProcessorCount) cores"
              + (separateLease ? ", completion and lease apart" : ""))

        // Ours.
        let oursPath = folder.appending(path: "ours.db").path
        let store = try SQLiteJobStore(path: oursPath)
        // Enqueued from the file's database thread, as the workers lease (see DatabaseThread).
        let t0 = ContinuousClock.now
        try await withTaskExecutorPreference(store.database.thread) {
            for i in 0..<jobs { _ = try await store.enqueue(NewJob(channel: "c\(i % 3)", topic: "t\(i)")) }
        }
        let enqueueSeconds = (ContinuousClock.now - t0).seconds
        // And from a plain Swift task (`ytauto enqueue`, the scheduler): each call hops to the
        // store's queue and back.
        let poolStore = try SQLiteJobStore(path: folder.appending(path: "enqueue-from-task.db").path)
        let tp = ContinuousClock.now
        for i in 0..<jobs { _ = try await poolStore.enqueue(NewJob(channel: "c\(i % 3)", topic: "t\(i)")) }
        let poolEnqueueSeconds = (ContinuousClock.now - tp).seconds
        let ours = try await lifecycle(mode: "ours", db: oursPath, folder: folder)

        // The ceiling, on a fresh file with the same schema and jobs.
        let rawPath = folder.appending(path: "raw.db").path
        _ = try SQLiteJobStore(path: rawPath)  // the schema
        let t1 = ContinuousClock.now
        let raw = try RawSQLite(rawPath, likeTheStore: true)
        for i in 0..<jobs {
            let now = Timestamp.string(Date())
            try raw.exec("BEGIN IMMEDIATE")
            try raw.run(SQLiteJobStore.SQL.insertJob, ["c\(i % 3)", "t\(i)", #"{"options":{},"topic":"t\#(i)"}"#, Int64(0), now, Int64(3), nil, now, now, "video"])
            try raw.exec("COMMIT")
        }
        let rawEnqueueSeconds = (ContinuousClock.now - t1).seconds
        let ceiling = try await lifecycle(mode: "raw", db: rawPath, folder: folder)

        print("")
        print("life cycle          jobs/s   lease p50   lease p99   lease max   shares by process")
        for (name, r) in [("ours", ours), ("ceiling (CSQLite)", ceiling)] {
            print(name.padding(toLength: 18, withPad: " ", startingAt: 0)
                + "  " + fmt(Double(jobs) / r.seconds, 0).leftPad(6)
                + "  " + (fmt(percentile(r.leaseMS, 50), 2) + " ms").leftPad(10)
                + "  " + (fmt(percentile(r.leaseMS, 99), 2) + " ms").leftPad(10)
                + "  " + (fmt(r.leaseMS.max() ?? 0, 1) + " ms").leftPad(10)
                + "   " + r.shares.map { fmt(Double($0) / Double(jobs) * 100, 1) + "%" }.joined(separator: " / "))
        }
        print("ratio ours / ceiling: \(fmt(ceiling.seconds / ours.seconds, 2))  (goal: at least 0.80)")
        print("enqueue (one job a transaction, one process): ours \(fmt(Double(jobs) / enqueueSeconds, 0)) jobs/s on the database thread, "
            + "\(fmt(Double(jobs) / poolEnqueueSeconds, 0)) from a Swift task; ceiling \(fmt(Double(jobs) / rawEnqueueSeconds, 0)) jobs/s")

        if historyRows > 0 { try await historyQueries(folder: folder) }
        let table = try await backlogTable(folder: folder, backlogs: parsedBacklogs ?? [])
        if !table.isEmpty { printBacklog(table) }
    }

    struct Result {
        var seconds: Double
        var leaseMS: [Double]
        var shares: [Int]
    }

    /// Starts the processes, releases them together, and waits for all. Without `perProcess` they
    /// run the queue dry, and every job must have succeeded exactly once; with it, each does that many.
    func lifecycle(mode: String, db: String, folder: URL, stages: Int? = nil, perProcess: Int? = nil, tag: String = "") async throws -> Result {
        let go = folder.appending(path: "go-\(mode)\(tag)").path
        let children = try (0..<processes).map { i in
            try Spawned(Binaries.path("ytauto-bench"), ["queue-child", "--mode", mode, "--db", db, "--stages", String(stages ?? self.stages),
                                                        "--go", go, "--name", "\(mode)-\(i)", "--max-jobs", String(perProcess ?? Int.max),
                                                        "--slots", String(mode == "ours" ? slots : 1)]
                                                       + (separateLease ? ["--separate-lease"] : []))
        }
        try await Task.sleep(for: .milliseconds(500))  // let them open the file
        let start = ContinuousClock.now
        guard FileManager.default.createFile(atPath: go, contents: nil) else { throw BenchError("cannot create \(go)") }
        let (lease, shares) = try await Self.gather(children, mode: mode)
        let seconds = (ContinuousClock.now - start).seconds
        if let perProcess {
            let check = try RawSQLite(db)
            let succeeded = Int(try check.run("SELECT count(*) FROM jobs WHERE state = 'succeeded'", [])[0][0] ?? "") ?? -1
            guard succeeded == perProcess * processes, shares.allSatisfy({ $0 == perProcess }) else {
                throw BenchError("\(mode): \(succeeded) succeeded, shares \(shares), expected \(perProcess) each")
            }
            return Result(seconds: seconds, leaseMS: lease, shares: shares)
        }
        // Exactly once: every job succeeded, with one attempt.
        let check = try RawSQLite(db)
        let succeeded = Int(try check.run("SELECT count(*) FROM jobs WHERE state = 'succeeded'", [])[0][0] ?? "") ?? -1
        let attempts = Int(try check.run("SELECT count(*) FROM job_attempts", [])[0][0] ?? "") ?? -1
        guard succeeded == jobs, attempts == jobs, shares.reduce(0, +) == jobs else {
            throw BenchError("\(mode): \(succeeded) succeeded, \(attempts) attempts, \(shares.reduce(0, +)) reported, of \(jobs) jobs")
        }
        return Result(seconds: seconds, leaseMS: lease, shares: shares)
    }

    /// Waits for every child and reads its last line: the jobs it completed and its lease times.
    static func gather(_ children: [Spawned], mode: String) async throws -> (lease: [Double], shares: [Int]) {
        var lease: [Double] = []
        var shares: [Int] = []
        for c in children {
            let (status, out) = await c.finish()
            guard status == 0, let data = out.split(separator: "\n").last.map({ Data($0.utf8) }),
                  let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw BenchError("a \(mode) process failed (status \(status)): \(out.suffix(500))")
            }
            shares.append(json["completed"] as? Int ?? 0)
            lease += json["lease_ms"] as? [Double] ?? []
        }
        return (lease, shares)
    }

    /// list-failed and history on big tables, through the store.
    func historyQueries(folder: URL) async throws {
        let path = folder.appending(path: "history.db").path
        _ = try SQLiteJobStore(path: path)
        let raw = try RawSQLite(path)
        let start = Date().addingTimeInterval(-Double(historyRows))
        try raw.exec("BEGIN IMMEDIATE")
        for i in 0..<historyRows {
            let t = Timestamp.string(start.addingTimeInterval(Double(i)))
            let failed = i % 10 == 0
            try raw.run("""
                INSERT INTO jobs (channel, topic, payload, state, priority, run_at, attempt, max_attempts, created_at, updated_at, finished_at,
                                  last_error_code, last_error_message)
                VALUES (?, ?, '{}', ?, 0, ?, 1, 1, ?, ?, ?, ?, ?)
                """, ["c\(i % 5)", "t", failed ? "failed" : "succeeded", t, t, t, t, failed ? "ffmpeg.failed" : nil, failed ? "boom" : nil])
            try raw.run("""
                INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, finished_at, outcome)
                VALUES (last_insert_rowid(), 1, 1, ?, 'w', ?, ?, ?)
                """, ["c\(i % 5)", t, t, failed ? "failed" : "succeeded"])
        }
        try raw.exec("COMMIT")
        let store = try SQLiteJobStore(path: path)
        func time(_ body: () async throws -> Void) async throws -> [Double] {
            var out: [Double] = []
            for _ in 0..<30 {
                let t = ContinuousClock.now
                try await body()
                out.append((ContinuousClock.now - t).seconds * 1000)
            }
            return out
        }
        let lf = try await time { _ = try await store.listFailed(channel: nil, since: nil, limit: 50) }
        let lfc = try await time { _ = try await store.listFailed(channel: "c3", since: nil, limit: 50) }
        let h = try await time { _ = try await store.history(channel: nil, limit: 50) }
        let hc = try await time { _ = try await store.history(channel: "c3", limit: 50) }
        print("")
        print("queries on \(historyRows) jobs and \(historyRows) attempts (50 rows each, 30 runs): p50 / p99")
        for (name, v) in [("list-failed", lf), ("list-failed --channel", lfc), ("history", h), ("history --channel", hc)] {
            print("  \(name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(fmt(percentile(v, 50), 2)) ms / \(fmt(percentile(v, 99), 2)) ms")
        }
    }
}

/// One benchmark process: runs the life cycle until the queue is empty, then prints its figures.
struct QueueChild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue-child", shouldDisplay: false)
    @Option var mode: String
    @Option var db: String
    @Option var stages: Int
    @Option var go: String
    @Option var name: String
    @Option var maxJobs = Int.max
    @Option var slots = 1
    @Flag var separateLease = false

    func run() async throws {
        while !FileManager.default.fileExists(atPath: go) { usleep(1000) }
        let stageNames = (0..<stages).map { "stage\($0)" }
        var completed = 0
        var leaseMS: [Double] = []
        if mode == "minimal" {
            completed = try minimalLoop(db: db, name: name, maxJobs: maxJobs, leaseMS: &leaseMS)
        } else if mode.hasPrefix("pg-") {
            completed = try await postgresChildLoop(mode: mode, db: db, name: name, stages: stages, maxJobs: maxJobs, slots: slots,
                                                   handOver: !separateLease, leaseMS: &leaseMS)
        } else if mode == "ours" {
            let store = try SQLiteJobStore(path: db, migrate: false)
            (completed, leaseMS) = try await lifeCycles(store, slots: slots, name: name, stages: stageNames, maxJobs: maxJobs, handOver: !separateLease)
        } else {
            let raw = try RawSQLite(db, likeTheStore: true)
            // The store's own statement texts (SQLiteJobStore.SQL), without the store around them.
            typealias SQL = SQLiteJobStore.SQL
            func tx<T>(_ body: () throws -> T) throws -> T {
                try raw.exec("BEGIN IMMEDIATE")
                do {
                    let v = try body()
                    try raw.exec("COMMIT")
                    return v
                } catch {
                    try? raw.exec("ROLLBACK")
                    throw error
                }
            }
            // The lease with its attempt row, inside the caller's transaction.
            func leaseNext() throws -> [String?]? {
                let now = Date()
                let rows = try raw.run(SQL.leaseNext, [name, Timestamp.string(now.addingTimeInterval(300)), Timestamp.string(now), "video"])
                guard let row = rows.first else { return nil }
                try raw.run(SQL.insertAttempt, [Int64(row[0]!)!, Int64(row[7]!)!, Int64(row[10]!)!, row[1], name, Timestamp.string(now),
                                                "bench", Int64(300)])
                return row
            }
            // As the store does: each completion leases the next job in the same transaction.
            var handed: [String?]? = nil
            while completed < maxJobs {
                let row: [String?]
                if let h = handed {
                    row = h
                } else {
                    let t = ContinuousClock.now
                    guard let leased = try tx({ try leaseNext() }) else { break }
                    leaseMS.append((ContinuousClock.now - t).seconds * 1000)
                    row = leased
                }
                let id = Int64(row[0]!)!, token = Int64(row[10]!)!, attempt = Int64(row[7]!)!
                func check() throws {
                    let r = try raw.run(SQL.jobByID, [id])
                    guard let j = r.first, j[4] == "running", j[10] == String(token), j[9] == name else { throw BenchError("lease lost") }
                }
                for s in stageNames {
                    let now = Timestamp.string(Date())
                    try tx {
                        try check()
                        try raw.run(SQL.upsertStage, [id, s, "succeeded", attempt, "[]", now, now, Int64(0), nil, nil])
                        try raw.run(SQL.upsertStageRun, [id, attempt, token, s, "succeeded", now, now, Int64(0), nil, nil])
                        try raw.run(SQL.setCurrentStage, [s, now, id])
                    }
                }
                let now2 = Timestamp.string(Date())
                let t = ContinuousClock.now
                handed = try tx {
                    let done = try raw.run(SQL.completeFenced, [now2, id, token, name])
                    guard !done.isEmpty else { throw BenchError("lease lost") }
                    try raw.run(SQL.finishAttempt, [now2, "succeeded", stageNames.last, nil, nil, id, token])
                    return completed + 1 < maxJobs && !separateLease ? try leaseNext() : nil
                }
                if handed != nil { leaseMS.append((ContinuousClock.now - t).seconds * 1000) }
                completed += 1
            }
        }
        let json = try JSONSerialization.data(withJSONObject: ["completed": completed, "lease_ms": leaseMS])
        print(String(decoding: json, as: UTF8.self))
    }
}

/// ``lifeCycles(_:name:stages:maxJobs:handOver:)`` in `slots` tasks at once on the store's
/// bookkeeping executor, as QueueWorker runs its slots, so that writes asked for together are
/// grouped as a worker's are. `maxJobs` is shared among the slots.
func lifeCycles(_ store: any WorkerStore, slots: Int, name: String, stages: [String], maxJobs: Int, handOver: Bool) async throws -> (completed: Int, leaseMS: [Double]) {
    try await withTaskExecutorPreference(store.bookkeepingExecutor) {
        try await withThrowingTaskGroup(of: (completed: Int, leaseMS: [Double]).self) { group in
            for slot in 0..<slots {
                let share = maxJobs == Int.max ? Int.max : maxJobs / slots + (slot < maxJobs % slots ? 1 : 0)
                group.addTask { try await lifeCycles(store, name: name, stages: stages, maxJobs: share, handOver: handOver) }
            }
            var all = (completed: 0, leaseMS: [Double]())
            for try await r in group { all.completed += r.completed; all.leaseMS += r.leaseMS }
            return all
        }
    }
}

/// Leases, checkpoints and completes jobs through a store until the queue is dry or `maxJobs` are
/// done, as a worker does: each completion leases the next job in the same step
/// (``JobStore/complete(_:thenLease:)``). Returns how many, and each lease's time in ms (for a
/// lease handed over, the time of the completion that took it). Both engines' runs use it.
/// Without `handOver`, it completes and leases in two steps (`--separate-lease`).
func lifeCycles(_ store: any JobStore, name: String, stages: [String], maxJobs: Int, handOver: Bool) async throws -> (completed: Int, leaseMS: [Double]) {
    var completed = 0
    var leaseMS: [Double] = []
    let request = LeaseRequest(worker: name, channels: nil, duration: .seconds(300))
    var next: Lease? = nil
    while completed < maxJobs {
        let lease: Lease
        if let handed = next {
            lease = handed
        } else {
            let t = ContinuousClock.now
            guard let leased = try await store.lease(worker: name, channels: nil, duration: .seconds(300)) else { break }
            leaseMS.append((ContinuousClock.now - t).seconds * 1000)
            lease = leased
        }
        for s in stages {
            try await store.checkpoint(lease, stage: s, state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
        }
        let t = ContinuousClock.now
        next = try await store.complete(lease, thenLease: completed + 1 < maxJobs && handOver ? request : nil).next
        if next != nil { leaseMS.append((ContinuousClock.now - t).seconds * 1000) }
        completed += 1
    }
    return (completed, leaseMS)
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

