import Foundation
import Testing
import YTAutoCore
import YTAutoPostgres
import YTAutoStore
import YTAutoTestSupport

/// Where the product's processes keep their queue in a test: a SQLite file in the test's folder, or
/// a database of its own on the tests' PostgreSQL cluster.
struct ProcessEngine: Sendable, CustomTestStringConvertible {
    let name: String
    /// The `--db` / `YTAUTO_DB` location for the test folder `dir`.
    let location: @Sendable (_ dir: TempDir) async throws -> String
    var testDescription: String { name }

    static let sqlite = ProcessEngine(name: "sqlite") { dir in dir.path("ytauto.db") }
    static let postgres = ProcessEngine(name: "postgres") { _ in try await PostgresServer.server().createDatabase(prefix: "procs") }
    /// SQLite always; PostgreSQL where its server is installed (in CI, always).
    static let all: [ProcessEngine] = PostgresServer.available ? [.sqlite, .postgres] : [.sqlite]

    /// The store at `location`, created and migrated; with `clock`, on that time rather than the
    /// real one (the server's, on PostgreSQL).
    static func open(_ location: String, clock: (@Sendable () -> Date)? = nil) async throws -> any OperatorStore {
        // The test's own look at the queue waits up to 120 s for an answer: under the whole suite's
        // load (servers starting, 1,000 jobs going through four workers) one took over 15 s.
        if PostgresURL.isPostgres(location) {
            return try await PostgresJobStore(url: try PostgresURL(location), clock: clock, deadline: .seconds(120))
        }
        return try SQLiteJobStore(path: location, clock: clock ?? Date.init)
    }
}

/// Exactly-once with the product's own processes, on each engine: several `ytauto worker`s
/// (the diagnostic pipeline, `--synthetic-stage-ms`, on `synthetic` jobs) share a queue, and a
/// worker that dies is killed for real with SIGKILL, mid-stage.
@Suite struct QueueProcessTests {
    let dir = TempDir("ytauto-queue-procs")
    var dbPath: String { dir.path("ytauto.db") }
    var env: [String: String] { ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("ytauto.yaml")] }

    func worker(_ args: String...) throws -> Child {
        try Child(binary("ytauto"), ["worker"] + args, cwd: dir.url, environment: env)
    }

    /// A `ytauto worker` on the database at `location`.
    func worker(on location: String, _ args: String...) throws -> Child {
        try Child(binary("ytauto"), ["worker"] + args, cwd: dir.url,
                  environment: ["YTAUTO_DB": location, "YTAUTO_CONFIG": dir.path("ytauto.yaml")])
    }

    /// Every attempt of every job, by job, in the order they started.
    func attemptsByJob(_ store: any OperatorStore) async throws -> [Int64: [AttemptRecord]] {
        let all = try await store.history(channel: nil, limit: 1_000_000)
        return Dictionary(grouping: all.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }, by: \.jobID)
    }

    /// No two attempts of one job overlapped: each ended before the next began.
    func expectNoOverlap(_ byJob: [Int64: [AttemptRecord]]) {
        for (job, attempts) in byJob {
            for (a, b) in zip(attempts, attempts.dropFirst()) {
                guard let end = a.finishedAt else {
                    Issue.record("job \(job): attempt \(a.attempt) never finished but another began")
                    continue
                }
                #expect(end <= b.startedAt, "job \(job): attempt \(a.attempt) ended \(end) after the next began \(b.startedAt)")
            }
        }
    }

    /// Stops a worker with SIGTERM (graceful) and expects a clean exit without lock trouble.
    func stop(_ w: Child) async {
        w.kill(SIGTERM)
        let r = await w.wait()
        #expect(r.status == 0, "worker \(w.pid) exited \(r.status): \(r.stderr.suffix(2_000))")
        #expect(!r.stderr.contains("database is locked") && !r.stderr.contains("SQLITE_BUSY"), "\(r.stderr.suffix(2_000))")
    }

    @Test(arguments: ProcessEngine.all) func fourWorkerProcessesRunEveryJobExactlyOnce(engine: ProcessEngine) async throws {
        let location = try await engine.location(dir)
        let store = try await ProcessEngine.open(location)
        let count = 1_000
        for i in 0..<count {
            _ = try await store.enqueue(NewJob(channel: ["horror", "facts", "finance"][i % 3], topic: "topic \(i)", kind: .synthetic))
        }
        let workers = try (0..<4).map { _ in try worker(on: location, "--synthetic-stage-ms", "0", "--concurrency", "2") }
        let done = try await eventually(timeout: .seconds(240)) { try await store.stats().byState[.succeeded] == count }
        for w in workers { await stop(w) }
        let states = try await store.stats().byState
        #expect(done, "\(states)")
        let byJob = try await attemptsByJob(store)
        #expect(byJob.count == count)
        for (job, attempts) in byJob {
            // Exactly once: one attempt, and it succeeded (no job ran twice, none was lost).
            #expect(attempts.map(\.outcome) == [.succeeded], "job \(job): \(attempts.map(\.outcome))")
        }
        expectNoOverlap(byJob)
        let perWorker = Dictionary(grouping: byJob.values.flatMap { $0 }, by: \.workerID).mapValues(\.count)
        print("jobs per worker process: \(perWorker.values.sorted())")
        #expect(perWorker.count >= 2, "only \(perWorker) ran jobs")
        let stageRows = try await byJob.keys.asyncMap { try await store.stages(jobID: $0) }.flatMap { $0 }
        #expect(stageRows.count == count * 7 && stageRows.allSatisfy { $0.state == .succeeded })
        #expect(try await store.workers().allSatisfy { $0.state == .stopped })
    }

    /// A lease whose answer never reaches its worker: a proxy passes the statement to the server,
    /// which commits it, withholds the answer and cuts the connection, as a network may. The
    /// worker finds the job it holds but does not run and runs it in that same attempt. Left to
    /// the lease's expiry, a job of one attempt would fail `lease.expired`. Both statements that
    /// lease: the lease loop's (words of PostgresJobStore.leaseQuery) and a completion that
    /// leases the worker's next job (words of its combined form).
    @Test(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"),
          arguments: ["FOR UPDATE OF jobs SKIP LOCKED", "'done' AS ytauto_row"])
    func aLeaseWhoseAnswerWasLostIsRunByTheWorkerHoldingIt(statement marker: String) async throws {
        let (store, proxy, proxied) = try await Self.behindAnswerDroppingProxy(prefix: "lost")
        defer { proxy.shutdown() }
        var ids: [Int64] = []
        for topic in ["first", "second"] {
            ids.append(try await store.enqueue(NewJob(channel: "a", topic: topic, maxAttempts: 1, kind: .synthetic)).job.id)
        }
        proxy.dropAnswer(toStatementContaining: marker)
        let w = try worker(on: proxied, "--synthetic-stage-ms", "0", "--lease-seconds", "20", "--concurrency", "1")
        let ended = try await eventually(timeout: .seconds(90)) {
            let queued = try await store.stats().byState[.queued, default: 0]
            let running = try await store.runningJobs()
            return queued == 0 && running.isEmpty
        }
        w.kill(SIGTERM)
        let exit = await w.wait()
        #expect(ended)
        #expect(proxy.droppedAnswers == 1, "no answer was withheld")
        for id in ids {
            let job = try #require(try await store.job(id: id))
            #expect(job.state == .succeeded, "job \(id): \(job.state): \(job.lastErrorCode ?? "-") \(job.lastErrorMessage ?? "")")
            #expect(try await store.attempts(jobID: id).map(\.outcome) == [.succeeded], "job \(id)")
        }
        #expect(exit.stderr.contains("found a lease whose answer was lost"), "\(exit.stderr.suffix(3_000))")
    }

    /// `run-once` whose lease's answer is lost after the server committed it runs the job all the
    /// same, in the attempt it holds, instead of failing and leaving the job `running` under its
    /// lease until that expires: its registration is its own, so a lease it holds is that one.
    @Test(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
    func runOnceRunsTheJobWhoseLeaseAnswerWasLost() async throws {
        let (store, proxy, proxied) = try await Self.behindAnswerDroppingProxy(prefix: "lost1")
        defer { proxy.shutdown() }
        try "channels:\n  - name: facts\n".write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        proxy.dropAnswer(toStatementContaining: "FOR UPDATE OF jobs SKIP LOCKED")
        let r = try await run("ytauto", ["run-once", "facts", "--topic", "a lost answer", "--synthetic-stage-ms", "0"], cwd: dir.url,
                              environment: ["YTAUTO_DB": proxied, "YTAUTO_CONFIG": dir.path("ytauto.yaml")])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr.suffix(3_000))")
        #expect(proxy.droppedAnswers == 1, "no answer was withheld")
        #expect(r.stderr.contains("found the lease whose answer was lost"), "\(r.stderr.suffix(3_000))")
        // "job N: channel facts, topic …"
        let id = try #require(r.stdout.split(separator: "\n").first.flatMap { $0.split(separator: " ").dropFirst().first }
            .flatMap { Int64($0.dropLast()) })
        let job = try #require(try await store.job(id: id))
        #expect(job.topic == "a lost answer" && job.state == .succeeded, "\(job.state) \(job.lastErrorMessage ?? "")")
        #expect(try await store.attempts(jobID: job.id).map(\.outcome) == [.succeeded])
    }

    /// A fresh PostgreSQL database, its store (connected directly), and its URL through an
    /// ``AnswerDroppingProxy`` (shut it down when done).
    static func behindAnswerDroppingProxy(prefix: String) async throws -> (store: any OperatorStore, proxy: AnswerDroppingProxy, url: String) {
        let server = try await PostgresServer.server()
        let direct = try await server.createDatabase(prefix: prefix)
        let store = try await ProcessEngine.open(direct)
        let proxy = try AnswerDroppingProxy(to: server.host, port: server.port)
        let proxied = direct.replacingOccurrences(of: "@\(server.host):\(server.port)/", with: "@127.0.0.1:\(proxy.port)/")
        do { try #require(proxied != direct) } catch {
            proxy.shutdown()
            throw error
        }
        return (store, proxy, proxied)
    }

    /// A worker process killed with SIGKILL while it holds two jobs: the next reclaim finds it dead
    /// by its lock (on SQLite the kernel dropped its flock and the file stays; on PostgreSQL the
    /// server ended its session and the advisory lock with it), frees the job with attempts left to run
    /// next and fails the one on its last attempt, both attempts `lost` with `worker.lost`; the
    /// worker is `dead`, and a second reclaim finds nothing.
    @Test(arguments: ProcessEngine.all) func reclaimFreesTheJobsOfAWorkerKilledWithSIGKILL(engine: ProcessEngine) async throws {
        let location = try await engine.location(dir)
        let store = try await ProcessEngine.open(location)
        let a = try await store.enqueue(NewJob(channel: "a", topic: "a", maxAttempts: 2, kind: .synthetic)).job.id
        let b = try await store.enqueue(NewJob(channel: "a", topic: "b", maxAttempts: 1, kind: .synthetic)).job.id
        let doomed = try worker(on: location, "--synthetic-stage-ms", "60000", "--concurrency", "2", "--lease-seconds", "3600")
        #expect(try await eventually(timeout: .seconds(60)) { try await store.runningJobs().count == 2 })
        #expect(try await store.reclaim().isEmpty, "a live worker's jobs are not freed")
        let id = try #require(try await store.workers().first { $0.pid == doomed.pid }?.id)
        doomed.kill(SIGKILL)
        _ = await doomed.wait()
        let lockPath = try #require(try await store.workers().first { $0.id == id }?.lockPath)
        if engine.name == "sqlite" {
            #expect(FileManager.default.fileExists(atPath: lockPath), "SIGKILL leaves the lock file; only its lock goes")
        } else {
            // The server ends the dead process's session, and its advisory lock with it (a moment after the kill).
            #expect(lockPath.hasPrefix("advisory:"))
            #expect(try await eventually(timeout: .seconds(10)) { try await store.needsReclaim() })
        }

        let report = try await store.reclaim()
        #expect(report.deadWorkers == [id])
        #expect(report.requeued == [a])
        #expect(report.failed == [b])  // that was its last attempt
        #expect(try await store.job(id: a)?.state == .queued)
        #expect(try await store.job(id: b)?.lastErrorCode == "worker.lost")
        #expect(try await store.attempts(jobID: a).map(\.outcome) == [.lost])
        #expect(try await store.attempts(jobID: b).map(\.errorCode) == ["worker.lost"])
        #expect(try await store.workers().first { $0.id == id }?.state == .dead)
        #expect(try await store.reclaim().isEmpty)
    }

    /// SIGKILL a worker that holds leases, mid-stage: the other worker frees its jobs through the
    /// lock file in well under the lease time, and every job still succeeds exactly once.
    @Test(arguments: ProcessEngine.all) func aSigkilledWorkersJobsAreFreedAndFinishedOnce(engine: ProcessEngine) async throws {
        let location = try await engine.location(dir)
        let store = try await ProcessEngine.open(location)
        let ids = try await (0..<4).asyncMap { i in
            try await store.enqueue(NewJob(channel: "horror", topic: "t\(i)", maxAttempts: 3, kind: .synthetic)).job.id
        }
        // Leases of 60 s: recovery must come from the dead-worker check, not from expiry. Stages of
        // ten minutes: the victim cannot finish a job before the kill, however loaded the machine.
        let victim = try worker(on: location, "--synthetic-stage-ms", "600000", "--concurrency", "2", "--lease-seconds", "60")
        let victimPrefix = "w-\(victim.pid)-"
        let held = try await eventually(timeout: .seconds(60)) {
            let mine = try await store.runningJobs().filter { $0.leaseOwner?.hasPrefix(victimPrefix) == true }
            guard mine.count == 2 else { return false }
            // Inside a stage, not merely leased.
            return try await mine.asyncMap { try await store.stages(jobID: $0.id).isEmpty == false }.allSatisfy { $0 }
        }
        #expect(held)
        let victimJobs = Set(try await store.runningJobs().filter { $0.leaseOwner?.hasPrefix(victimPrefix) == true }.map(\.id))
        let survivor = try worker(on: location, "--synthetic-stage-ms", "50", "--concurrency", "4", "--lease-seconds", "60")
        // The survivor takes the two free jobs; then the victim dies mid-stage.
        #expect(try await eventually(timeout: .seconds(60)) { try await store.stats().byState[.queued, default: 0] == 0 })
        victim.kill(SIGKILL)
        let killedAt = Date()
        let killed = await victim.wait()
        #expect(killed.status == 128 + SIGKILL || killed.status == SIGKILL, "victim exited \(killed.status)")
        let survivorPrefix = "w-\(survivor.pid)-"
        let released = try await eventually(timeout: .seconds(60)) {
            let attempts = try await store.history(channel: nil, limit: 100)
            return victimJobs.allSatisfy { id in attempts.contains { $0.jobID == id && $0.workerID.hasPrefix(survivorPrefix) } }
        }
        #expect(released)
        let recovery = try await store.history(channel: nil, limit: 100)
            .filter { victimJobs.contains($0.jobID) && $0.workerID.hasPrefix(survivorPrefix) }
            .map { $0.startedAt.timeIntervalSince(killedAt) }.max() ?? .infinity
        print("SIGKILL to re-lease of the victim's \(victimJobs.count) jobs: \(Int(recovery * 1000)) ms")
        #expect(recovery < 10, "recovery took \(recovery) s (the lease was 60 s)")
        #expect(try await eventually(timeout: .seconds(120)) { try await store.stats().byState[.succeeded] == 4 })
        await stop(survivor)

        let byJob = try await attemptsByJob(store)
        for id in ids {
            let attempts = try #require(byJob[id])
            #expect(attempts.filter { $0.outcome == .succeeded }.count == 1, "job \(id): \(attempts.map(\.outcome))")
            if victimJobs.contains(id) {
                #expect(attempts.map(\.outcome) == [.lost, .succeeded])
                #expect(attempts.first?.errorCode == "worker.lost")
                #expect(attempts.first?.workerID.hasPrefix(victimPrefix) == true)
            } else {
                #expect(attempts.map(\.outcome) == [.succeeded])
            }
        }
        expectNoOverlap(byJob)
        let dead = try await store.workers().filter { $0.state == .dead }.map(\.pid)
        #expect(dead == [victim.pid])
    }

    /// Whether process `pid` has a file of the test's folder named `name` open.
    func hasOpen(_ pid: Int32, _ name: String) -> Bool {
        let fds = "/proc/\(pid)/fd"
        let suffix = "/\(dir.url.lastPathComponent)/\(name)"
        return ((try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? []).contains {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fds)/\($0)"))?.hasSuffix(suffix) == true
        }
    }

    /// Six `ytauto-admin migrate` processes on a fresh file, let go at once: each migration is applied
    /// exactly once and every process succeeds.
    @Test func concurrentMigratesApplyEachMigrationOnce() async throws {
        // The test holds the write lock until every process has the database open and waits for it,
        // so that they race for real (one after another, each would find its predecessor's work done).
        // The lock is held and let go on a thread of its own: a suite that keeps Swift's pool busy
        // must not delay the release (a held lock that commits nothing is "locked" after 10 s).
        let holder = try Connection(path: dbPath)
        try holder.execute("BEGIN IMMEDIATE")
        nonisolated(unsafe) let held = holder
        let children = try (0..<6).map { _ in try Child(binary("ytauto-admin"), ["migrate"], cwd: dir.url, environment: env) }
        let released = DispatchSemaphore(value: 0)
        Thread { [self] in
            // (At most 4 s: a process waits 10 s for a lock that nobody commits under before it gives up.)
            let deadline = Date().addingTimeInterval(4)
            var allWaiting = false
            while !allWaiting && Date() < deadline {
                allWaiting = children.allSatisfy { hasOpen($0.pid, "ytauto.db-shm") }
                if !allWaiting { usleep(10_000) }
            }
            print("all six processes waited for the write lock together: \(allWaiting)")
            try? held.execute("COMMIT")
            released.signal()
        }.start()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { released.wait(); done.resume() }
        }
        for c in children {
            let r = await c.wait()
            #expect(r.status == 0, "\(r.stderr)")
        }
        let db = try Connection(path: dbPath)
        let rows = try db.query("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version")
        #expect(rows.count == Migration.embedded.count)
        #expect(rows.allSatisfy { $0.int("n") == 1 })
    }
}
