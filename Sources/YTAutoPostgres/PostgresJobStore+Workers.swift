import Foundation
import Logging
import Synchronization
import PostgresNIO
import YTAutoCore

/// A live worker on PostgreSQL: its id, and the session connection that holds its advisory lock
/// (class ``PostgresWorkerSession/lockClass``, key ``lockKey``) and listens for work.
///
/// The session runs for the worker's life. It pings the server every 2 s (so the server's
/// keepalive clock for it, which decides when other hosts see it dead, starts at most 2 s before
/// any cut); when the connection
/// drops (or a ping goes unanswered for 10 s) it reconnects with backoff (0.5 s doubling to 5 s),
/// takes its lock again and marks the worker running again. While it is away, other processes may
/// find the worker dead and free its jobs: the fence then refuses its late writes, and the worker
/// stops a job whose lease it can no longer prove (its heartbeats fail for a whole lease).
public final class PostgresWorkerSession: WorkerRegistrationRecord, Sendable {
    /// How often the session pings the server.
    static let pingInterval = Duration.seconds(2)
    /// The advisory lock class of workers (the bytes of "yt").
    public static let lockClass: Int32 = 0x7974
    public let id: String
    public let lockKey: Int32
    let connection: ConnectionBox
    private let task: Task<Void, Never>

    final class ConnectionBox: Sendable {
        private let lock = Mutex<PostgresConnection?>(nil)
        var current: PostgresConnection? { lock.withLock { $0 } }
        func set(_ c: PostgresConnection?) { lock.withLock { $0 = c } }
    }

    init(id: String, lockKey: Int32, connection: PostgresConnection, url: PostgresURL, signal: SequenceSignal, firstPause: Duration, logger: Logger) {
        self.id = id
        self.lockKey = lockKey
        let box = ConnectionBox()
        box.set(connection)
        self.connection = box
        self.task = Task {
            await Self.keep(id: id, lockKey: lockKey, box: box, url: url, signal: signal, firstPause: firstPause, logger: logger)
        }
    }

    /// Ends the session: the lock is released with it. A session stuck in a reconnection (a
    /// statement the server never answers) is not waited for past 10 s: it was cancelled, its
    /// connection closed, and the process goes on (seen once: a test's deregistration hung).
    func stop() async {
        task.cancel()
        try? await connection.current?.close()
        let task = self.task
        _ = await Deadline.race(until: .now + .seconds(10)) { await task.value }
    }

    static func connect(url: PostgresURL, logger: Logger) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(
                configuration: try url.connectionConfiguration(applicationName: "ytauto worker"), id: Int.random(in: 0...Int.max), logger: PostgresPool.quiet)
        } catch {
            throw PostgresStoreError.from(error, url: url)
        }
    }

    private static func keep(id: String, lockKey: Int32, box: ConnectionBox, url: PostgresURL, signal: SequenceSignal, firstPause: Duration, logger: Logger) async {
        var log = logger
        log[metadataKey: "worker"] = "\(id)"
        while !Task.isCancelled {
            if let conn = box.current {
                await watch(conn, signal: signal)
                if Task.isCancelled { return }
                log.warning("the worker's database session ended; reconnecting (its jobs are fenced meanwhile)")
                try? await conn.close()
                box.set(nil)
            }
            var pause = Duration.milliseconds(500)
            var failures = RepeatedFailure()
            try? await Task.sleep(for: firstPause)
            while !Task.isCancelled {
                do {
                    // A reconnection that the server does not answer within 15 s is given up and tried again.
                    let attempt = await Deadline.race(until: .now + .seconds(15), { () async throws -> PostgresConnection in
                        let conn = try await connect(url: url, logger: logger)
                        do {
                            let ok = try await PGRow.first(conn.query("SELECT pg_try_advisory_lock(\(lockClass), \(lockKey)) AS ok", logger: PostgresPool.quiet))?.bool("ok")
                            guard ok == true else {
                                // The old session still holds it (the server has not seen it die yet): wait for that.
                                throw PostgresStoreError("the worker's lock is still held by its previous session")
                            }
                            try await conn.query("""
                                UPDATE workers SET state = 'running', stopped_at = NULL, last_seen_at = now() WHERE id = \(id)
                                """, logger: PostgresPool.quiet)
                            // Given up meanwhile: close it, so no connection of nobody's holds the worker's lock.
                            if Task.isCancelled { throw CancellationError() }
                            return conn
                        } catch {
                            try? await conn.close()
                            throw error
                        }
                    }, discarded: { late in try? await late.close() })  // it answered after the 15 s: nobody holds it
                    guard case .finished(let result) = attempt else {
                        throw PostgresStoreError("the server did not answer the reconnection within 15 s")
                    }
                    let conn = try result.get()
                    box.set(conn)
                    log.info("the worker's database session is back\(failures.succeeded().map { " " + $0 } ?? "")")
                    signal.bump()
                    break
                } catch {
                    let text = "\(PostgresStoreError.from(error, url: url))"
                    if failures.failed(text) {
                        log.warning("reconnecting the worker's session failed: \(text)\(failures.note()); next try in \(pause)")
                    }
                    try? await Task.sleep(for: pause)
                    pause = min(pause * 2, .seconds(5))
                }
            }
        }
    }

    /// Returns when the connection is gone: its notifications stop, or a ping fails or hangs.
    private static func watch(_ conn: PostgresConnection, signal: SequenceSignal) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try? await conn.listen(on: "ytauto_work") { notifications in
                    // Listening may have missed work while it was being set up.
                    signal.bump()
                    for try await _ in notifications { signal.bump() }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: PostgresWorkerSession.pingInterval)
                    if Task.isCancelled { return }
                    let answered = await withTaskGroup(of: Bool.self) { ping in
                        ping.addTask { (try? await conn.query("SELECT 1", logger: Logger(label: "ytauto.ping")).collect()) != nil }
                        ping.addTask { try? await Task.sleep(for: .seconds(10)); return false }
                        let first = await ping.next() ?? false
                        ping.cancelAll()
                        return first
                    }
                    if !answered { return }
                }
            }
            await group.next()
            group.cancelAll()
            try? await conn.close()
        }
    }
}

extension PGRow {
    static func first(_ rows: PostgresRowSequence) async throws -> PGRow? {
        for try await row in rows { return PGRow(row) }
        return nil
    }
}

extension PostgresJobStore: WorkerStore, SchedulerStore {
    /// The host name stored with workers.
    public static var hostName: String { ProcessInfo.processInfo.hostName }

    /// Registers this process as a worker: opens its session, takes its advisory lock there, then
    /// inserts its row, so a `running` row always has a held lock behind it until the session ends.
    public func registerWorker() async throws -> PostgresWorkerSession { try await registerWorker(id: nil) }

    /// ``registerWorker()`` with a chosen id (tests name their workers).
    public func registerWorker(id: String?) async throws -> PostgresWorkerSession {
        let pid = getpid()
        let id = id ?? "w-\(pid)-\(UInt32.random(in: 0...UInt32.max) & 0xffffff)"
        let conn = try await PostgresWorkerSession.connect(url: url, logger: logger)
        do {
            var key: Int32 = 0
            for _ in 0..<16 {
                let candidate = Int32.random(in: 1...Int32.max)
                let ok = try await PGRow.first(conn.query(
                    "SELECT pg_try_advisory_lock(\(PostgresWorkerSession.lockClass), \(candidate)) AS ok", logger: PostgresPool.quiet))?.bool("ok")
                if ok == true { key = candidate; break }
            }
            guard key != 0 else { throw PostgresStoreError("no free advisory lock key for a worker after 16 tries") }
            try await conn.query("""
                INSERT INTO workers (id, pid, hostname, lock_path, lock_class, lock_key, state, started_at, last_seen_at)
                VALUES (\(id), \(Int(pid)), \(Self.hostName), \("advisory:\(PostgresWorkerSession.lockClass):\(key)"),
                        \(Int(PostgresWorkerSession.lockClass)), \(Int(key)), 'running',
                        coalesce(\(nowBind)::timestamptz, now()), coalesce(\(nowBind)::timestamptz, now()))
                """, logger: PostgresPool.quiet)
            return PostgresWorkerSession(id: id, lockKey: key, connection: conn, url: url, signal: signal,
                                         firstPause: sessionReconnectPause.withLock { $0 }, logger: logger)
        } catch {
            try? await conn.close()
            throw PostgresStoreError.from(error, url: url)
        }
    }

    /// Marks the worker stopped, frees any job it still holds (as lost), then ends its session.
    public func deregisterWorker(_ registration: PostgresWorkerSession) async throws {
        do {
            try await pool.transaction { tx in
                let now = try await self.now(tx)
                try await tx.run("UPDATE workers SET state = 'stopped', stopped_at = \(now), last_seen_at = \(now) WHERE id = \(registration.id)")
                _ = try await Self.releaseJobs(tx, of: registration.id, code: "worker.stopped",
                                               message: "worker \(registration.id) stopped while holding the job", now: now)
            }
        } catch {
            await registration.stop()
            throw error
        }
        await registration.stop()
        signal.bump()
    }

    /// The running jobs whose lease `worker` holds (``WorkerStore/leases(heldBy:)``).
    public func leases(heldBy worker: String) async throws -> [Lease] {
        try await pool.query("SELECT * FROM jobs WHERE state = 'running' AND lease_owner = \(worker) ORDER BY id").map {
            try Self.lease($0, worker: worker)
        }
    }

    /// Nothing to mend here: the session keeps itself (``PostgresWorkerSession`` reconnects and
    /// takes its lock again).
    public func keepRegistration(_ registration: PostgresWorkerSession) async throws -> String? { nil }

    public func touchWorker(_ id: String) async throws {
        try await pool.query("UPDATE workers SET last_seen_at = coalesce(\(nowBind)::timestamptz, now()) WHERE id = \(id)")
    }

    /// Every registered worker, newest first.
    public func workers() async throws -> [WorkerRecord] {
        try await pool.query("SELECT * FROM workers ORDER BY started_at DESC").map(Self.workerRecord)
    }

    /// The worker of that id (by its primary key), or nil if none has it.
    public func worker(id: String) async throws -> WorkerRecord? {
        try await pool.queryOne("SELECT * FROM workers WHERE id = \(id)").map(Self.workerRecord)
    }

    static func workerRecord(_ r: PGRow) throws -> WorkerRecord {
        let stateText = try r.required("state", r.string)
        guard let state = WorkerRecord.State(rawValue: stateText) else { throw r.corrupt("state", found: "'\(stateText)'", expected: "a worker state") }
        return WorkerRecord(
            id: try r.required("id", r.string), pid: Int32(truncatingIfNeeded: try r.required("pid", r.int)),
            hostname: try r.required("hostname", r.string), lockPath: try r.required("lock_path", r.string), state: state,
            startedAt: try r.required("started_at", r.date), lastSeenAt: try r.required("last_seen_at", r.date),
            stoppedAt: try r.date("stopped_at"))
    }

    /// How long a server that has just started gives the workers it knew to take their locks
    /// again: every session ended with the server (a restart, a failover), so at first no lock is
    /// held, and a live worker's session reconnects within seconds (backoff up to 5 s, a try the
    /// server may take 15 s to answer). Judged by its lock alone at once, every worker was dead,
    /// even the judge, and every running job spent an attempt on a routine restart.
    static let restartGrace = 40

    /// Whether worker `w`, whose lock no session holds, may still be coming back: last seen
    /// before the server started, which started less than ``restartGrace`` seconds ago.
    static let comingBackAfterRestart = """
        (w.last_seen_at < pg_postmaster_start_time() AND now() < pg_postmaster_start_time() + interval '\(restartGrace) seconds')
        """

    /// Whether worker `w` is gone: no session holds its advisory lock, and it is not one that
    /// may still be coming back after the server's restart.
    static let gone = """
        (NOT EXISTS (SELECT 1 FROM pg_locks l
                      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                        AND l.classid = w.lock_class::oid AND l.objid = w.lock_key::oid)
         AND NOT \(comingBackAfterRestart))
        """

    /// `running` workers whose advisory lock no session holds: dead, on whatever host they ran
    /// (past a server's restart, once they have had time to come back).
    static let abandonedWorkers = "SELECT w.id FROM workers w WHERE w.state = 'running' AND \(gone)"

    /// By its advisory lock, seen in `pg_locks` without taking it: from any host.
    public func isAbandoned(_ worker: WorkerRecord) async throws -> Bool? {
        let parts = worker.lockPath.split(separator: ":")
        guard parts.count == 3, parts[0] == "advisory", Int32(parts[1]) != nil, Int32(parts[2]) != nil else { return nil }
        // The row as the server has it now (its lock and when it was last seen), judged as `reclaim` judges it.
        return try await pool.queryOne("SELECT \(unescaped: Self.gone) AS abandoned FROM workers w WHERE w.id = \(worker.id)")?
            .bool("abandoned")
    }

    static func releaseJobs(_ tx: PGTransaction, of worker: String, code: String, message: String, now: Date) async throws -> ReclaimReport {
        let rows = try await tx.query("SELECT * FROM jobs WHERE state = 'running' AND lease_owner = \(worker) ORDER BY id FOR UPDATE")
        return try await release(tx, rows.map(job), code: code, message: message, now: now)
    }

    static func release(_ tx: PGTransaction, _ jobs: [Job], code: String, message: String, now: Date) async throws -> ReclaimReport {
        var report = ReclaimReport()
        for job in jobs {
            guard let owner = job.leaseOwner else { continue }
            let lease = Lease(job: job, owner: owner, token: job.leaseToken, expiresAt: job.leaseExpiresAt ?? now)
            let failure = JobRules.lossFailure(of: job, code: code, message: message)
            switch JobRules.afterLoss(of: job, now: now) {
            case .cancelled:
                try await finishAttempt(tx, lease, outcome: .cancelled, stage: job.currentStage, error: failure, now: now)
                _ = try await finish(tx, jobID: job.id, state: .cancelled, error: nil, now: now)
            case .failed:
                try await finishAttempt(tx, lease, outcome: .lost, stage: job.currentStage, error: failure, now: now)
                _ = try await finish(tx, jobID: job.id, state: .failed, error: failure, now: now)
                report.failed.append(job.id)
            case .retry(let runAt, let refund):
                try await finishAttempt(tx, lease, outcome: .lost, stage: job.currentStage, error: failure, now: now)
                _ = try await requeue(tx, jobID: job.id, runAt: runAt, refund: refund, error: failure, now: now)
                report.requeued.append(job.id)
            }
        }
        return report
    }

    /// Whether ``reclaim()`` would free anything: a running worker whose lock no session holds, or an expired lease.
    public func needsReclaim() async throws -> Bool {
        try await pool.queryOne("""
            SELECT EXISTS (\(unescaped: Self.abandonedWorkers))
                OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running'
                            AND lease_expires_at < coalesce(\(nowBind)::timestamptz, now())) AS needed
            """)?.bool("needed") ?? false
    }

    public func reclaimIfNeeded() async throws -> ReclaimReport {
        guard try await needsReclaim() else { return ReclaimReport() }
        return try await reclaim()
    }

    /// Frees the jobs of dead workers (found by their advisory locks, on any host) and of expired leases.
    public func reclaim() async throws -> ReclaimReport {
        var report = ReclaimReport()
        let dead = try await pool.query(PostgresQuery(unsafeSQL: Self.abandonedWorkers)).map { try $0.required("id", $0.string) }
        for id in dead {
            let freed: ReclaimReport = try await pool.transaction { tx in
                let now = try await self.now(tx)
                // Only if still registered as running (and still without its lock), so two sweeps free its jobs once.
                let marked = try await tx.run(PostgresQuery(unsafeSQL: """
                    UPDATE workers SET state = 'dead', stopped_at = $1 WHERE id = $2 AND id IN (\(Self.abandonedWorkers)) RETURNING id
                    """, binds: { var b = PostgresBindings(); b.append(ExactTime(now)); b.append(id); return b }()))
                guard marked == 1 else { return ReclaimReport() }
                var r = try await Self.releaseJobs(tx, of: id, code: "worker.lost", message: "worker \(id) died", now: now)
                r.deadWorkers = [id]
                return r
            }
            report.deadWorkers += freed.deadWorkers
            report.requeued += freed.requeued
            report.failed += freed.failed
        }
        let expired: ReclaimReport = try await pool.transaction { tx in
            let now = try await self.now(tx)
            let rows = try await tx.query("""
                SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < \(now) ORDER BY id FOR UPDATE SKIP LOCKED
                """)
            return try await Self.release(tx, rows.map(Self.job), code: "lease.expired",
                                          message: "the lease expired without a heartbeat", now: now)
        }
        report.requeued += expired.requeued
        report.failed += expired.failed
        if !report.requeued.isEmpty { signal.bump() }
        return report
    }

    public var workSequence: UInt64 { signal.sequence }

    public func signalWork() { signal.bump() }

    public func waitForWork(seen: UInt64, timeout: Duration, waiter: String) async {
        await signal.wait(seen: seen, timeout: timeout)
    }

    /// Other hosts find a cut-off worker dead when the server ends its session: at the earliest
    /// ``PostgresSession/deadSessionBound`` (20 s) after the session's last packet, which is at
    /// most a ping interval (2 s) before the cut, so no sooner than 18 s after it. A heartbeat sent
    /// before the cut proves the lease for 12 s: the worker stops its jobs' work at least 6 s
    /// before any other host can free them.
    public var leaseProofBound: Duration? { .seconds(PostgresSession.deadSessionBound - 8) }

    /// A thread of the database's own (``DedicatedThread``), though the store never blocks one
    /// (postgres-nio is asynchronous): a worker's slots' completions asked for together there share
    /// a statement (``CompletionGroups``).
    public var bookkeepingExecutor: any TaskExecutor { completions.thread }
}

extension PostgresJobStore: OperatorStore {}
