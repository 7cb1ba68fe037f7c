import Foundation
import YTAutoCore

/// A live worker's registration: its id and the lock that proves it is alive.
public struct WorkerRegistration: Sendable {
    public let id: String
    public let lock: WorkerLock
}

extension SQLiteJobStore {
    /// The host name stored with workers; a worker's lock can only be probed on its own host.
    public static var hostName: String { ProcessInfo.processInfo.hostName }

    /// Registers this process as a worker: takes its lock file first, then inserts its row,
    /// so a `running` row always has a held lock behind it until the process dies.
    public func registerWorker(id: String? = nil) async throws -> WorkerRegistration {
        let pid = getpid()
        let id = id ?? "w-\(pid)-\(UInt32.random(in: 0...UInt32.max) & 0xffffff)"
        try FileManager.default.createDirectory(atPath: lockDirectory, withIntermediateDirectories: true)
        let lock = try WorkerLock.acquire(path: "\(lockDirectory)/\(id).lock")
        let now = self.now()
        let host = Self.hostName
        do {
            try await database.write { db in
                try db.run("""
                    INSERT INTO workers (id, pid, hostname, lock_path, state, started_at, last_seen_at)
                    VALUES (?, ?, ?, ?, 'running', ?, ?)
                    """, [id, pid, host, lock.path, now, now])
            }
        } catch {
            lock.release()
            throw error
        }
        return WorkerRegistration(id: id, lock: lock)
    }

    /// Records that the worker is still there (for `workers` and `status`).
    public func touchWorker(_ id: String) async throws {
        let now = self.now()
        // No other process waits for this: it need not wake one.
        try await database.write(wakes: false) { db in
            try db.run("UPDATE workers SET last_seen_at = ? WHERE id = ?", [now, id])
        }
    }

    /// The running jobs whose lease `worker` holds (``WorkerStore/leases(heldBy:)``).
    public func leases(heldBy worker: String) async throws -> [Lease] {
        try await database.read { db in
            try db.query(SQL.runningOf, [worker]).map { row in
                let job = try Self.job(row)
                let expires = try StoredRow(row, table: "jobs", name: "job \(job.id)").date("lease_expires_at")
                return Lease(job: job, owner: worker, token: job.leaseToken, expiresAt: expires)
            }.sorted { $0.jobID < $1.jobID }
        }
    }

    /// Marks the worker stopped and releases its lock. Jobs it still holds are released as lost
    /// (a worker should hand its jobs back before it deregisters).
    public func deregisterWorker(_ registration: WorkerRegistration) async throws {
        let now = self.now()
        try await database.write { db in
            try db.run("UPDATE workers SET state = 'stopped', stopped_at = ?, last_seen_at = ? WHERE id = ?",
                       [now, now, registration.id])
            _ = try Self.releaseJobs(db, of: registration.id, code: "worker.stopped",
                                     message: "worker \(registration.id) stopped while holding the job", now: now)
        }
        registration.lock.release()
        database.signalWork()
    }

    /// Makes the worker's lock file again when it was removed (``WorkerLock/renewIfRemoved()``).
    /// Until then other processes saw the worker's process still running and left it alone; if
    /// one found it dead all the same (its process table unreadable), it is marked running again,
    /// as a PostgreSQL worker is when its session comes back: the fence has refused its writes
    /// for the jobs freed meanwhile.
    public func keepRegistration(_ registration: WorkerRegistration) async throws -> String? {
        guard try registration.lock.renewIfRemoved() else { return nil }
        let now = self.now()
        try await database.write(wakes: false) { db in
            try db.run("UPDATE workers SET state = 'running', stopped_at = NULL, last_seen_at = ? WHERE id = ? AND state = 'dead'",
                       [now, registration.id])
        }
        return "the worker's lock file \(registration.lock.path) was removed while the worker ran; it is made again "
            + "(remove nothing under \(lockDirectory) while workers run: a worker is found dead by its file)"
    }

    /// Every registered worker, newest first, as recorded (a dead worker stays `running` until a
    /// ``reclaim()`` finds it: ``isAbandoned(_:)`` asks its lock now).
    public func workers() async throws -> [WorkerRecord] {
        try await database.read { db in
            try db.query("SELECT * FROM workers ORDER BY started_at DESC").map(Self.workerRecord)
        }
    }

    /// The worker of that id (by its primary key), or nil if none has it.
    public func worker(id: String) async throws -> WorkerRecord? {
        try await database.read { db in
            try db.query("SELECT * FROM workers WHERE id = ?", [id]).first.map(Self.workerRecord)
        }
    }

    static func workerRecord(_ row: Row) throws -> WorkerRecord {
        let r = StoredRow(row, table: "workers", name: "worker \(row.string("id") ?? "with no id")")
        guard let pid = Int32(exactly: try r.int("pid")) else { throw r.corrupt("pid", expected: "a process id") }
        return WorkerRecord(
            id: try r.string("id"), pid: pid, hostname: try r.string("hostname"),
            lockPath: try r.string("lock_path"),
            state: try r.value("state", WorkerRecord.State.self, expected: "a worker state"),
            startedAt: try r.date("started_at"), lastSeenAt: try r.date("last_seen_at"),
            stoppedAt: try r.optionalDate("stopped_at"))
    }

    /// A worker of this host registered as running: what tells whether it still is.
    struct RunningWorker {
        let id: String
        let lockPath: String
        let pid: Int32
        let startedAt: Date

        /// Whether its process is still the one that registered: asked only when its lock file
        /// is missing (a removed file is not a dead worker: its sweep makes the file again) or
        /// cannot be opened by this process.
        var processRuns: Bool { LocalProcess.isRunning(pid, registeredAt: startedAt) }

        /// Whether it is gone, found without changing anything: its lock is free, or its file is
        /// missing or unreadable and its process no longer runs.
        var isGone: Bool {
            switch WorkerLock.peek(path: lockPath) {
            case .held: false
            case .free: true
            case .missing, .unreadable: !processRuns
            }
        }
    }

    /// A row of ``SQL/runningWorkersOfHost``.
    static func runningWorker(_ row: Row) throws -> RunningWorker {
        let r = StoredRow(row, table: "workers", name: "worker \(row.string("id") ?? "with no id")")
        guard let pid = Int32(exactly: try r.int("pid")) else { throw r.corrupt("pid", expected: "a process id") }
        return RunningWorker(id: try r.string("id"), lockPath: try r.string("lock_path"), pid: pid, startedAt: try r.date("started_at"))
    }

    /// Releases every running job of `worker`: queued again now, or failed if that was its
    /// last attempt, or cancelled if a cancel was requested. Its attempts end `lost`.
    static func releaseJobs(_ db: Connection, of worker: String, code: String, message: String, now: Date) throws -> ReclaimReport {
        let rows = try db.query(SQL.runningOf, [worker])
        return try release(db, rows.map(job), code: code, message: message, now: now)
    }

    static func release(_ db: Connection, _ jobs: [Job], code: String, message: String, now: Date) throws -> ReclaimReport {
        var report = ReclaimReport()
        for job in jobs {
            guard let owner = job.leaseOwner else { continue }
            let lease = Lease(job: job, owner: owner, token: job.leaseToken, expiresAt: job.leaseExpiresAt ?? now)
            let failure = JobRules.lossFailure(of: job, code: code, message: message)
            switch JobRules.afterLoss(of: job, now: now) {
            case .cancelled:
                try finishAttempt(db, lease, outcome: .cancelled, stage: job.currentStage, error: failure, now: now)
                _ = try finish(db, jobID: job.id, state: .cancelled, error: nil, now: now)
            case .failed:
                try finishAttempt(db, lease, outcome: .lost, stage: job.currentStage, error: failure, now: now)
                _ = try finish(db, jobID: job.id, state: .failed, error: failure, now: now)
                report.failed.append(job.id)
            case .retry(let runAt, let refund):
                try finishAttempt(db, lease, outcome: .lost, stage: job.currentStage, error: failure, now: now)
                _ = try requeue(db, jobID: job.id, runAt: runAt, refund: refund, error: failure, now: now)
                report.requeued.append(job.id)
            }
        }
        return report
    }

    /// Whether ``reclaim()`` would free anything: a worker of this host registered as running
    /// whose lock nobody holds, or an expired lease. Only reads and non-destructive probes, so a
    /// read-only command can ask, then open the database for writing only when there is work.
    public func needsReclaim() async throws -> Bool {
        let host = Self.hostName
        let now = self.now()
        let (workers, expired): ([RunningWorker], Bool) = try await database.read { db in
            let workers = try db.query(SQL.runningWorkersOfHost, [host]).map(Self.runningWorker)
            return (workers, try db.queryOne(SQL.anyExpired, [now]) != nil)
        }
        return expired || workers.contains(where: \.isGone)
    }

    /// ``reclaim()``, for processes that are not workers: it writes only when ``needsReclaim()``
    /// found something, so a look that finds nothing takes no write lock.
    public func reclaimIfNeeded() async throws -> ReclaimReport {
        guard try await needsReclaim() else { return ReclaimReport() }
        return try await reclaim()
    }

    /// Frees the jobs of dead workers and of expired leases.
    ///
    /// Dead workers are found by their locks (see ``WorkerLock``), in well under a second;
    /// only workers on this host are probed, since a flock says nothing across hosts. Lease
    /// expiry is the backstop for everything else (a hung process, another host).
    public func reclaim() async throws -> ReclaimReport {
        var report = ReclaimReport()
        let host = Self.hostName
        let candidates: [RunningWorker] = try await database.read { db in
            try db.query(SQL.runningWorkersOfHost, [host]).map(Self.runningWorker)
        }
        for candidate in candidates {
            let held: WorkerLock?
            switch WorkerLock.probe(path: candidate.lockPath) {
            case .alive: continue
            case .missing, .unreadable:
                if candidate.processRuns { continue }
                held = nil
            case .dead(let lock): held = lock
            }
            let now = self.now()
            let freed: ReclaimReport = try await database.write { db in
                let marked = try db.run(SQL.markWorkerDead, [now, candidate.id])
                guard marked == 1 else { return ReclaimReport() }
                var r = try Self.releaseJobs(db, of: candidate.id, code: "worker.lost",
                                             message: "worker \(candidate.id) died", now: now)
                r.deadWorkers = [candidate.id]
                return r
            }
            held?.release()
            report.deadWorkers += freed.deadWorkers
            report.requeued += freed.requeued
            report.failed += freed.failed
        }
        let now = self.now()
        // Most sweeps find nothing: look first with a read, so idle workers do not queue for the write lock.
        let anyExpired = try await database.read { db in
            try db.queryOne(SQL.anyExpired, [now]) != nil
        }
        guard anyExpired else {
            if !report.requeued.isEmpty { database.signalWork() }
            return report
        }
        let expired: ReclaimReport = try await database.write { db in
            let rows = try db.query(SQL.expired, [now])
            return try Self.release(db, rows.map(Self.job), code: "lease.expired",
                                    message: "the lease expired without a heartbeat", now: now)
        }
        report.requeued += expired.requeued
        report.failed += expired.failed
        if !report.requeued.isEmpty { database.signalWork() }
        return report
    }
}

extension SQLiteJobStore.SQL {
    /// The workers of a host (`?1`) registered as running: the ones whose locks a sweep probes.
    public static let runningWorkersOfHost = "SELECT id, lock_path, pid, started_at FROM workers WHERE state = 'running' AND hostname = ?"

    /// Marks a worker found dead (`?1` now, `?2` id), only if it is still registered as running, so
    /// two sweeps that find it at once free its jobs once.
    public static let markWorkerDead = "UPDATE workers SET state = 'dead', stopped_at = ? WHERE id = ? AND state = 'running'"
}

extension WorkerRegistration: WorkerRegistrationRecord {}

/// The worker's and the scheduler's contracts, on SQLite: a worker's life is its lock file, and
/// idle workers sleep on the work word of `<db>-wake` (a futex shared through the file).
extension SQLiteJobStore: WorkerStore, SchedulerStore {
    public func registerWorker() async throws -> WorkerRegistration { try await registerWorker(id: nil) }

    public var workSequence: UInt64 { UInt64(database.workSequence) }

    public func signalWork() { database.signalWork() }

    /// Blocks a thread of the waiter's own (`<db>#idle-<waiter>`), never a cooperative one.
    public func waitForWork(seen: UInt64, timeout: Duration, waiter: String) async {
        let database = self.database
        let idle = DatabaseThread.forDatabase(at: database.path + "#idle-\(waiter)")
        await withTaskExecutorPreference(idle) { database.waitForWork(seen: UInt32(truncatingIfNeeded: seen), timeout: timeout) }
    }

    /// A worker on the database's own host cannot be cut off from it and live on.
    public var leaseProofBound: Duration? { nil }

    /// The database file's ``DatabaseThread``: the store's transactions run there without a hop.
    public var bookkeepingExecutor: any TaskExecutor { database.thread }
}

/// The commands' contract, on SQLite.
extension SQLiteJobStore: OperatorStore {
    public var isReadOnly: Bool { database.isReadOnly }

    public func close() { database.close() }

    public func allowAttempts(jobID: Int64, atLeast count: Int) async throws {
        try await database.write(wakes: false) { db in
            try db.run("UPDATE jobs SET max_attempts = max(max_attempts, ?) WHERE id = ? AND state = 'queued'", [count, jobID])
        }
    }

    /// By its lock file, probed without taking it, and by its process when the file is missing
    /// or this process may not open it;
    /// nil for a worker of another host (its lock can only be probed there).
    public func isAbandoned(_ worker: WorkerRecord) async throws -> Bool? {
        guard worker.hostname == Self.hostName else { return nil }
        return RunningWorker(id: worker.id, lockPath: worker.lockPath, pid: worker.pid, startedAt: worker.startedAt).isGone
    }
}
