import Foundation
import PostgresNIO
import Synchronization
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoPostgres

/// What only the PostgreSQL engine has: its migrator under an advisory lock, workers' liveness by
/// session-level advisory locks seen from any host, sessions that come back, wake-ups by
/// LISTEN/NOTIFY. (The behaviour both engines share is in the store suites, run on both.)
@Suite(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
struct PostgresEngineTests {
    func database() async throws -> (url: PostgresURL, name: String) {
        let text = try await PostgresServer.server().createDatabase(prefix: "engine")
        let url = try PostgresURL(text)
        return (url, url.database)
    }

    @Test func concurrentOpensMigrateOnceAndAChangedOrNewerSchemaIsRefused() async throws {
        let (url, name) = try await database()
        // Eight stores opened at once, each migrating: every migration is recorded once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { try await PostgresJobStore(url: url).close() } }
            try await group.waitForAll()
        }
        let server = try await PostgresServer.server()
        let counts = try await server.psql("SELECT version || ':' || count(*) FROM schema_migrations GROUP BY version ORDER BY version", database: name)
        #expect(counts.split(separator: "\n").map(String.init) == Migration.postgres.map { "\($0.version):1" })
        #expect(try await PostgresJobStore(url: url, migrate: false).schemaVersion() == Migration.postgres.last?.version)

        // An applied migration edited since: refused, naming it.
        try await server.psql("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1", database: name)
        let edited = await #expect(throws: MigrationError.self) { try await PostgresJobStore(url: url) }
        #expect("\(edited.map { "\($0)" } ?? "")".contains("0001_job_store was changed after it was applied"))
        try await server.psql("UPDATE schema_migrations SET checksum = '\(Migration.postgres[0].checksum)' WHERE version = 1", database: name)
        // A database migrated by a newer ytauto: refused, for reading and for writing.
        try await server.psql("INSERT INTO schema_migrations VALUES (999, 'future', 'x', now())", database: name)
        for migrate in [true, false] {
            let newer = await #expect(throws: MigrationError.self) { try await PostgresJobStore(url: url, migrate: migrate) }
            #expect(newer == .databaseNewer(databaseVersion: 999, binaryVersion: Migration.postgres.last?.version ?? 0))
        }
    }

    @Test func aFreshDatabaseIsRefusedWithoutMigrationAndNamesTheCommand() async throws {
        let (url, _) = try await database()
        let error = await #expect(throws: PostgresStoreError.self) { try await PostgresJobStore(url: url, migrate: false) }
        #expect(error?.message.contains("ytauto-admin migrate") == true)
    }

    /// A worker is alive while its session holds its advisory lock, seen from another store (as from
    /// another host). When the server ends that session, the worker is dead to everyone and its job
    /// is freed; the worker's session then comes back (reconnects, takes its lock, is `running` again),
    /// and its old lease is refused by the fence.
    /// A server restart ends every session at once, so at first no worker's lock is held: a
    /// worker seen before the server started is given time to take its lock again (it was found
    /// dead at once, by others and by itself, and every running job spent an attempt). One that
    /// does not come back is dead once that time is up.
    @Test func aServerRestartIsNotItsWorkersDeath() async throws {
        let server = try await PostgresServer.start(listenAddresses: "127.0.0.1", trustedNetwork: "127.0.0.1/32")
        let url = try PostgresURL(try await server.createDatabase(prefix: "restart"))
        let workerSide = try await PostgresJobStore(url: url)
        // A second worker whose session, once ended, does not come back within the test.
        let goneSide = try await PostgresJobStore(url: url)
        goneSide.sessionReconnectPause.withLock { $0 = .seconds(3600) }
        let observer = try await PostgresJobStore(url: url)
        let live = try await workerSide.registerWorker()
        let gone = try await goneSide.registerWorker()
        let id = try await workerSide.enqueue(NewJob(channel: "a", maxAttempts: 1)).job.id
        let other = try await workerSide.enqueue(NewJob(channel: "a", maxAttempts: 3)).job.id
        let lease = try #require(try await workerSide.lease(worker: live.id, channels: nil, duration: .seconds(3600), only: id))
        _ = try #require(try await goneSide.lease(worker: gone.id, channels: nil, duration: .seconds(3600), only: other))

        try await server.restart()
        let restarted = ContinuousClock.now
        // Right after it (the observer's pool reconnects on its first tries): nobody is dead yet.
        var first: ReclaimReport? = nil
        #expect(await eventually(timeout: .seconds(20)) { first = try? await observer.reclaim(); return first != nil })
        #expect(first?.isEmpty == true, "\(String(describing: first))")
        // The live worker takes its lock again; its job runs on under the same lease.
        #expect(await eventually(timeout: .seconds(30)) {
            guard let r = try? await observer.workers().first(where: { $0.id == live.id }) else { return false }
            return (try? await observer.isAbandoned(r)) == false
        }, "the live worker's session did not come back")
        #expect(try await observer.reclaim().deadWorkers.isEmpty)
        _ = try await workerSide.heartbeat(lease, duration: .seconds(3600))
        #expect(try await observer.job(id: id)?.state == .running)
        #expect(try await observer.attempts(jobID: id).map(\.outcome) == [nil], "the attempt goes on, not lost")

        // The other never came back: dead once the server's grace is up, and its job freed.
        var report = ReclaimReport()
        while report.deadWorkers.isEmpty, ContinuousClock.now < restarted + .seconds(PostgresJobStore.restartGrace + 30) {
            report = try await observer.reclaim()
            if report.deadWorkers.isEmpty { try await Task.sleep(for: .seconds(1)) }
        }
        #expect(report.deadWorkers == [gone.id] && report.requeued == [other], "\(report)")
        #expect(ContinuousClock.now - restarted >= .seconds(PostgresJobStore.restartGrace - 5))
        try await workerSide.deregisterWorker(live)
    }

    @Test func aWorkersLifeIsItsSessionAndASessionComesBack() async throws {
        let (url, _) = try await database()
        let workerSide = try await PostgresJobStore(url: url)
        // The session waits 5 s before it reconnects, so the test sees the worker dead in between.
        workerSide.sessionReconnectPause.withLock { $0 = .seconds(5) }
        let observer = try await PostgresJobStore(url: url)
        let session = try await workerSide.registerWorker()
        let id = try await workerSide.enqueue(NewJob(channel: "a", maxAttempts: 3)).job.id
        let lease = try #require(try await workerSide.lease(worker: session.id, channels: nil, duration: .seconds(3600)))
        var record = try #require(try await observer.workers().first { $0.id == session.id })
        #expect(record.lockPath == "advisory:\(PostgresWorkerSession.lockClass):\(session.lockKey)")
        #expect(try await observer.isAbandoned(record) == false)
        #expect(try await observer.reclaim().isEmpty)

        // The server ends the worker's session (as it does when keepalives find its host gone).
        let server = try await PostgresServer.server()
        let ended = try await server.psql("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_locks
             WHERE locktype = 'advisory' AND classid = \(PostgresWorkerSession.lockClass) AND objid = \(session.lockKey) AND granted
            """)
        #expect(ended.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        // Another store (as on another host) sees it dead and frees its job.
        var report = ReclaimReport()
        let deadline = ContinuousClock.now + .seconds(10)
        while report.deadWorkers.isEmpty, ContinuousClock.now < deadline {
            report = try await observer.reclaim()
        }
        #expect(report.deadWorkers == [session.id])
        #expect(report.requeued == [id])
        #expect(try await observer.attempts(jobID: id).map(\.errorCode) == ["worker.lost"])
        await #expect(throws: LeaseLost.self) { _ = try await workerSide.heartbeat(lease, duration: .seconds(30)) }

        // The session comes back: its lock taken again, the worker running again. Its worst case is
        // a ping interval (2 s), the ping's 10 s, then a reconnection the server may take up to 15 s
        // to answer on a loaded machine (a CI run saw 15 s pass), so it is given 40 s.
        let back = await eventually(timeout: .seconds(40)) {
            guard let r = try? await observer.workers().first(where: { $0.id == session.id }) else { return false }
            let abandoned = try? await observer.isAbandoned(r)
            return r.state == .running && abandoned == false
        }
        #expect(back, "the worker's session did not come back")
        try await workerSide.deregisterWorker(session)
        record = try #require(try await observer.workers().first { $0.id == session.id })
        #expect(record.state == .stopped)
        // Its lock went with its session (the server ends it a moment after the client closes it).
        #expect(try await eventually(timeout: .seconds(10)) { try await observer.isAbandoned(record) == true })
    }

    /// A database made by the first schema (row-level count triggers) moves to the statement-level,
    /// sharded counts with its counts intact, and no job is counted twice afterwards.
    @Test func theFirstSchemasCountsCarryOverToTheStatementTriggers() async throws {
        let (url, name) = try await database()
        let first = try PostgresPool(url: url, applicationName: "test", maximumConnections: 1)
        _ = try await PostgresMigrator(migrations: Array(Migration.postgres.prefix(1))).migrate(first)
        first.close()
        let server = try await PostgresServer.server()
        try await server.psql("""
            INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at)
            SELECT 'c' || (g % 2), 't' || g, '{}', 'queued', 0, now(), 3, now(), now() FROM generate_series(1, 5) AS g
            """, database: name)
        let store = try await PostgresJobStore(url: url)
        defer { store.close() }
        #expect(try await store.stats().counts == ["c0": [.queued: 2], "c1": [.queued: 3]])
        // One lease, one new job: each counted once.
        _ = try #require(try await store.lease(worker: "w", channels: ["c0"], duration: .seconds(60)))
        _ = try await store.enqueue(NewJob(channel: "c1"))
        #expect(try await store.stats().counts == ["c0": [.queued: 1, .running: 1], "c1": [.queued: 4]])
        let triggers = try await server.psql("SELECT tgname FROM pg_trigger WHERE tgrelid = 'jobs'::regclass AND NOT tgisinternal ORDER BY 1", database: name)
        // The counts' statement triggers, and migration 0012's (the pruned jobs' topics): no row trigger of the first schema.
        #expect(triggers.split(separator: "\n") == ["jobs_deleted", "jobs_inserted", "jobs_updated", "pruned_topic_uses"])
    }

    /// docs/postgresql.md's way to build migration 0011's indexes on a big table without blocking
    /// writes works as written: its `CREATE INDEX CONCURRENTLY` lines, run on a database at 0010,
    /// then the migration, which finds them (`IF NOT EXISTS`) and builds no second copy.
    @Test func theIndexesBuiltConcurrentlyBeforehandAreTakenByTheMigration() async throws {
        let (url, name) = try await database()
        let pool = try PostgresPool(url: url, applicationName: "test", maximumConnections: 1)
        _ = try await PostgresMigrator(migrations: Array(Migration.postgres.prefix { $0.version < 11 })).migrate(pool)
        pool.close()
        let guide = try String(contentsOf: packageRoot.appending(path: "docs/postgresql.md"), encoding: .utf8)
        let prefix = "psql \"$YTAUTO_DB\" -c \""
        let statements = guide.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix(prefix), line.hasSuffix("\"") else { return nil }
            return String(line.dropFirst(prefix.count).dropLast())
        }
        #expect(statements.count == 2 && statements.allSatisfy { $0.hasPrefix("CREATE INDEX CONCURRENTLY IF NOT EXISTS ") }, "\(statements)")
        let server = try await PostgresServer.server()
        for statement in statements { _ = try await server.psql(statement, database: name) }  // one each: CONCURRENTLY refuses a transaction
        let (applied, _) = try await PostgresJobStore.migrate(url: url)
        #expect(applied.map(\.version).first == 11, "\(applied.map(\.name))")
        let indexes = try await server.psql("""
            SELECT c.relname || ' ' || i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'jobs'::regclass AND c.relname LIKE 'jobs_failed%code' ORDER BY 1
            """, database: name)
        #expect(indexes.split(separator: "\n") == ["jobs_failed_channel_code true", "jobs_failed_code true"], "\(indexes)")
    }

    /// A store opened read-only (the commands that only read) is read-only on the server too: a
    /// write through it is refused by PostgreSQL, with its reason, and changes nothing.
    @Test func aReadOnlyStoreIsReadOnlyOnTheServer() async throws {
        let (url, _) = try await database()
        let writer = try await PostgresJobStore(url: url)
        defer { writer.close() }
        let id = try await writer.enqueue(NewJob(channel: "a")).job.id
        let reader = try await PostgresJobStore(url: url, readOnly: true, migrate: false)
        defer { reader.close() }
        #expect(reader.isReadOnly)
        #expect(try await reader.job(id: id)?.state == .queued)
        let refused = await #expect(throws: (any Error).self) { _ = try await reader.enqueue(NewJob(channel: "a")) }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("read-only transaction"), "\(String(describing: refused))")
        await #expect(throws: (any Error).self) { _ = try await reader.cancel(jobID: id) }
        #expect(try await writer.job(id: id)?.state == .queued)
        #expect(try await writer.stats().byState[.queued] == 1)
    }

    /// The database server's clock is an hour behind this host's (as a server on another host with
    /// a wrong clock would be): every time comes from the server, so a job enqueued now is due now,
    /// a lease runs for its length of the server's time, a heartbeat extends it by as much, the
    /// sweep frees nothing early, and a worker process runs a job to its end in one attempt.
    /// (With a worker's clock anywhere in these, the job would not be due for an hour, or its
    /// lease would seem an hour long, or expired at once.)
    @Test func theServersClockRulesNotTheWorkers() async throws {
        let server = try await PostgresServer.start(clockOffset: "-1h")
        let name = "skew"
        try await server.psql("CREATE DATABASE \(name)")
        let url = try PostgresURL(server.url(database: name))
        let serverEpoch = try #require(Double(try await server.psql("SELECT extract(epoch FROM now())").trimmingCharacters(in: .whitespacesAndNewlines)))
        let skew = Date().timeIntervalSince1970 - serverEpoch
        try #require(abs(skew - 3600) < 60, "the server's clock is \(skew) s behind, not an hour")

        let store = try await PostgresJobStore(url: url)
        defer { store.close() }
        let id = try await store.enqueue(NewJob(channel: "a", maxAttempts: 3)).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, duration: .seconds(30)), "a job enqueued now is not due on the server's clock")
        func leaseLeft() async throws -> Double {
            try #require(Double(try await server.psql("SELECT extract(epoch FROM lease_expires_at - now()) FROM jobs WHERE id = \(id)", database: name)
                .trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let left = try await leaseLeft()
        // At most 30 s left on the server's clock (a worker's clock would leave an hour and 30 s);
        // a loaded test machine may take a while to ask.
        #expect(left > -300 && left <= 30, "the lease runs \(left) s of the server's time, not 30")
        let expectedEnd = Date().timeIntervalSince1970 - skew + 30
        #expect(abs(lease.expiresAt.timeIntervalSince1970 - expectedEnd) < 600, "the lease's end is not on the server's clock")
        _ = try await store.heartbeat(lease, duration: .seconds(120))
        let extended = try await leaseLeft()
        #expect(extended > 0 && extended <= 120, "the heartbeat extended the lease to \(extended) s of the server's time, not 120")
        #expect(try await store.reclaim().isEmpty)
        #expect(try await store.job(id: id)?.state == .running)
        _ = try await store.complete(lease)

        // A worker process: its job runs to its end in one attempt, nothing freed under it.
        let second = try await store.enqueue(NewJob(channel: "a", maxAttempts: 3, kind: .synthetic)).job.id
        let dir = try TempDir()
        try "channels:\n  - name: a\n".write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "200", "--lease-seconds", "12", "--concurrency", "1"],
                               cwd: dir.url, environment: ["YTAUTO_DB": server.url(database: name), "YTAUTO_CONFIG": dir.path("ytauto.yaml")])
        let finished = try await eventually(timeout: .seconds(60)) { try await store.job(id: second)?.state == .succeeded }
        worker.kill(SIGTERM)
        let result = await worker.wait()
        #expect(finished, "\(result.stderr)")
        #expect(try await store.attempts(jobID: second).map(\.outcome) == [.succeeded])
    }

    /// An idle worker waits on the store's signal; an enqueue by another process (another store, its
    /// own connections) wakes it through NOTIFY long before its wait's timeout.
    @Test func anEnqueueElsewhereWakesAnIdleWorkerByNotify() async throws {
        let (url, _) = try await database()
        let workerSide = try await PostgresJobStore(url: url)
        let elsewhere = try await PostgresJobStore(url: url)
        let session = try await workerSide.registerWorker()
        // The session is listening once its first wake-up (sent when LISTEN is set up) has come.
        #expect(await eventually(timeout: .seconds(10)) { workerSide.workSequence > 0 })
        let seen = workerSide.workSequence
        let waiter = Task {
            let started = ContinuousClock.now
            await workerSide.waitForWork(seen: seen, timeout: .seconds(30), waiter: session.id)
            return ContinuousClock.now - started
        }
        try await Task.sleep(for: .milliseconds(200))
        _ = try await elsewhere.enqueue(NewJob(channel: "a"))
        let waited = await waiter.value
        #expect(waited < .seconds(5), "woken after \(waited)")
        #expect(workerSide.workSequence != seen)
        try await workerSide.deregisterWorker(session)
    }

    /// The counts `status` reads are kept by statement-level triggers: statements that insert, move
    /// and delete many jobs at once (plain SQL included) leave them equal to a count of the table.
    @Test func countsFollowStatementsOfManyRows() async throws {
        let (url, name) = try await database()
        let store = try await PostgresJobStore(url: url)
        defer { store.close() }
        let server = try await PostgresServer.server()
        try await server.psql("""
            INSERT INTO jobs (channel, payload, state, run_at, created_at, updated_at, scheduled_at)
            SELECT 'c' || (g % 3), '{}', 'queued', now(), now(), now(), now() FROM generate_series(1, 3000) AS g;
            UPDATE jobs SET state = 'failed', finished_at = now() WHERE id % 4 = 0;
            UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE id % 4 = 1 AND channel = 'c1';
            DELETE FROM jobs WHERE id % 8 = 0;
            """, database: name)
        _ = try await store.retryAllFailed(channel: "c2")
        var expected: [String: [JobState: Int]] = [:]
        for line in try await server.psql("SELECT channel || ' ' || state || ' ' || count(*) FROM jobs GROUP BY channel, state", database: name)
            .split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            expected[parts[0], default: [:]][try #require(JobState(rawValue: parts[1]))] = Int(parts[2])
        }
        let total: Int = expected.values.map { $0.values.reduce(0, +) }.reduce(0, +)
        #expect(total == 3000 - 375)
        #expect(try await store.stats().counts == expected)
    }

    /// A statement of a pool whose server is gone (stopped after the pool started, as under a
    /// running console or worker) says why within seconds: it was "did not answer within 15 s"
    /// while a new process said "connection refused" at once.
    @Test func aStatementOfAPoolWhoseServerIsGoneSaysWhySoon() async throws {
        let pool = try PostgresPool(url: try PostgresURL("postgres://ops@127.0.0.1:1/ytauto?sslmode=disable"), applicationName: "test",
                                    maximumConnections: 1)
        defer { pool.close() }
        let error = await #expect(throws: PostgresStoreError.self) { try await pool.query("SELECT 1") }
        // Said by the probe, after 2 s, not at the deadline's 15 s ("did not answer").
        #expect("\(error.map { "\($0)" } ?? "")".contains("no answer: connection refused at 127.0.0.1:1 (is PostgreSQL running"),
                "\(error.map { "\($0)" } ?? "")")
    }

    /// Statements unanswered together ask whether the server is there with one connection, not one
    /// each: many workers' slow statements on a loaded server would otherwise add a connection
    /// apiece to its load. A probe after ``PostgresPool/probeAfter`` asks again.
    @Test func statementsUnansweredTogetherShareOneProbe() async throws {
        let server = try await PostgresServer.server()
        let direct = try await server.createDatabase(prefix: "probe")
        let proxy = try AnswerDroppingProxy(to: server.host, port: server.port)
        defer { proxy.shutdown() }
        let url = try PostgresURL(direct.replacingOccurrences(of: "@\(server.host):\(server.port)/", with: "@127.0.0.1:\(proxy.port)/"))
        let pool = try PostgresPool(url: url, applicationName: "test", maximumConnections: 1)
        defer { pool.close() }
        let answers = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<6 { group.addTask { await pool.unreachableNow() } }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        // The server is there: every caller is told so (nil), by one connection.
        #expect(answers.count == 6 && answers.allSatisfy { $0 == nil }, "\(answers)")
        #expect(proxy.connectionsOpened == 1)
        try await Task.sleep(for: PostgresPool.probeAfter + .milliseconds(100))
        #expect(await pool.unreachableNow() == nil)
        #expect(proxy.connectionsOpened == 2)
    }

    /// The URL's password never shows: not in the store's description, not in an error.
    @Test func aPasswordNeverShows() async throws {
        let url = try PostgresURL("postgres://ops:hunter2@127.0.0.1:1/ytauto?sslmode=disable")
        #expect(!url.redacted.contains("hunter2") && !"\(url)".contains("hunter2"))
        let error = await #expect(throws: (any Error).self) { try await PostgresJobStore(url: url) }
        #expect(!"\(error.map { "\($0)" } ?? "")".contains("hunter2"))
        // In an operator's words, not NIO's types.
        #expect("\(error.map { "\($0)" } ?? "")".contains("cannot connect: connection refused at 127.0.0.1:1 (is PostgreSQL running"), "\(error.map { "\($0)" } ?? "")")
        let unknown = await #expect(throws: (any Error).self) { try await PostgresJobStore(url: try PostgresURL("postgres://ops@nohost.invalid/ytauto")) }
        #expect("\(unknown.map { "\($0)" } ?? "")".contains("the host nohost.invalid is not known"), "\(unknown.map { "\($0)" } ?? "")")
        #expect(throws: PostgresURLError.self) { try PostgresURL("postgres://ops:hunter2@db/ytauto?sslmode=maybe") }
        #expect(throws: PostgresURLError.self) { try PostgresURL("postgres://ops:hunter2@db/ytauto?pool=3") }
        #expect(throws: PostgresURLError.self) { try PostgresURL("postgres://db/ytauto") }
        #expect(try PostgresURL("postgres://ops@db/ytauto", environment: ["PGPASSWORD": "s3cret"]).password == "s3cret")
        // A password with characters that split a URL, not percent-encoded: said so, none of it shown
        // (its pieces were read as the host and the database, and named in the message).
        for (text, what) in [("postgres://ytuser:pw@S3CRET-TAIL/x@127.0.0.1:55432/yt", "an '@'"),
                             ("postgres://u:us3r:p@ss/w#rd@127.0.0.1:55432/yt", "an '@'"),
                             ("postgres://u:S3CRET/TAIL@db/yt", "a '/'"), ("postgres://u:S3CRET?TAIL@db/yt", "a '?'"),
                             ("postgres://u:S3CRET#TAIL@db/yt", "a '#'")] {
            let refused = #expect(throws: PostgresURLError.self) { try PostgresURL(text) }
            let said = refused.map(\.message) ?? ""
            #expect(said.contains("has \(what) that is not percent-encoded") && !said.contains("S3CRET") && !said.contains("TAIL")
                    && !said.contains("rd@"), "\(text): \(said)")
        }
        // Encoded, they are the password's.
        #expect(try PostgresURL("postgres://u:p%40ss%2Fw%23rd@db/yt").password == "p@ss/w#rd")
        // An IPv6 literal is a host, named back in brackets.
        let six = try PostgresURL("postgres://u:pw@[::1]:55432/yt")
        #expect(six.host == "::1" && six.redacted == "postgres://u@[::1]:55432/yt")
    }
}
