import CSQLite
import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// Every hot statement stays logarithmic in the table's size, on tables of realistic size and
/// skew: 1,000,000 finished jobs and attempts, 100,000 queued jobs (one channel with only ten),
/// 20,000 more not due yet at a better priority than the rest, a few running. Two checks per statement, not the planner's good will: its plan has no temporary
/// B-tree (a sort of every matching row), and running it takes few virtual-machine steps
/// (`SQLITE_STMTSTATUS_VM_STEP`), where a scan of the queue or the history would take hundreds
/// of thousands.
@Suite(.serialized) struct QueryPlanTests {
    static let finished = 1_000_000
    static let queued = 100_000
    /// Jobs of the channel "later", at a better priority than every other job and not due yet.
    static let notDueYet = 20_000
    /// Far below one step per row of any table here, far above what an index seek costs.
    static let stepBound: Int32 = 5_000

    /// One database for every test of the suite. Filling it takes seconds of blocking SQLite
    /// calls, so it runs on a thread of its own: on one of Swift's cooperative threads (two on
    /// this machine) it would starve every other test of the process meanwhile, and tests that
    /// watch a worker process's stages would see them late.
    static let fixtureTask = Task<(dir: TempDir, path: String), Never> {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                // Lowest priority for this thread: the fill gives way to the worker processes and
                // tests that run beside it (Linux takes a thread id for PRIO_PROCESS).
                if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"),
                   let tid = link.split(separator: "/").last.flatMap({ id_t($0) }) {
                    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, 19)
                }
                continuation.resume(returning: build())
            }
        }
    }

    static var fixture: (dir: TempDir, path: String) {
        get async { await fixtureTask.value }
    }

    static func build() -> (dir: TempDir, path: String) {
        let dir = TempDir("ytauto-plans")
        let path = dir.path("big.db")
        let store = try! SQLiteJobStore(path: path)
        try! store.database.sync { db in
            try db.writeTransaction { db in
                try db.run("""
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                    INSERT INTO jobs (channel, topic, payload, state, priority, run_at, attempt, max_attempts, created_at, updated_at,
                                      finished_at, last_error_code, kind, scheduled_at)
                    SELECT 'c' || (i % 4), 'topic ' || (i % 50), '{}', CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END, 0,
                           strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || (i * 20) || ' seconds'), 1, 3,
                           strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || (i * 20) || ' seconds'),
                           strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || (i * 20 + 9) || ' seconds'),
                           strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || (i * 20 + 9) || ' seconds'),
                           CASE WHEN i % 1000 = 0 THEN 'work.stuck' WHEN i % 10 = 0 THEN 'media.ffmpeg' END, 'video',
                           strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01', '+' || (i * 20) || ' seconds')
                      FROM n
                    """, [Int64(finished)])
                try db.run("""
                    INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, finished_at, outcome,
                                              pipeline, lease_seconds, heartbeat_at)
                    SELECT id, 1, 1, channel, 'w-' || (id % 7), created_at, finished_at, state, 'media', 30, finished_at FROM jobs
                    """)
                // Queued: three busy channels, one with ten jobs; due over the last day, some in the future.
                try db.run("""
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                    INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
                    SELECT CASE WHEN i <= 10 THEN 'rare' ELSE 'c' || (i % 3) END, 'queued ' || i, '{}', 'queued', i % 2,
                           strftime('%Y-%m-%dT%H:%M:%fZ', '2026-11-29', '+' || (i * 7919 % 100000) || ' seconds'), 3,
                           '2026-11-29T00:00:00.000Z', '2026-11-29T00:00:00.000Z', 'video',
                           strftime('%Y-%m-%dT%H:%M:%fZ', '2026-11-29', '+' || (i * 7919 % 100000) || ' seconds')
                      FROM n
                    """, [Int64(queued)])
                try db.run("""
                    INSERT INTO jobs (channel, topic, payload, state, priority, run_at, attempt, max_attempts, lease_owner, lease_token,
                                      lease_expires_at, created_at, updated_at, kind)
                    SELECT 'c1', 'running', '{}', 'running', 0, '2026-11-30T00:00:00.000Z', 1, 3, 'w-1', 1,
                           '2026-11-30T10:00:00.000Z', '2026-11-30T00:00:00.000Z', '2026-11-30T00:00:00.000Z', 'video'
                      FROM jobs LIMIT 20
                    """)
                for i in 0..<2000 {
                    try db.run("""
                        INSERT INTO schedule_slots (channel, slot_at, expression, decision, topic, decided_at)
                        VALUES ('c1', ?, '0 * * * *', 'enqueued', ?, ?)
                        """, [Timestamp.string(Date(timeIntervalSince1970: 1_767_225_600 + Double(i) * 3600)), "topic \(i % 50)",
                              Timestamp.string(Date(timeIntervalSince1970: 1_767_225_600 + Double(i) * 3600))])
                }
                // A channel of a better priority than the rest whose jobs are not due yet (retries
                // backed off, jobs enqueued for later), and three due jobs of its own at a worse one.
                try db.run("""
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                    INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
                    SELECT 'later', 'later ' || i, '{}', 'queued', CASE WHEN i <= 3 THEN 5 ELSE -1 END,
                           CASE WHEN i <= 3 THEN '2026-11-30T00:00:00.000Z'
                                ELSE strftime('%Y-%m-%dT%H:%M:%fZ', '2026-12-01', '+' || i || ' seconds') END, 3,
                           '2026-11-29T00:00:00.000Z', '2026-11-29T00:00:00.000Z', 'video', '2026-11-29T00:00:00.000Z'
                      FROM n
                    """, [Int64(notDueYet + 3)])
            }
        }
        return (dir, path)
    }

    /// A connection of its own to the fixture.
    static func open() async throws -> (db: OpaquePointer, path: String) {
        let path = await fixture.path
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db else {
            throw SQLiteError(extendedCode: 1, message: "open", path: path)
        }
        return (db, path)
    }

    /// The plan's lines, and the VM steps of one run (rolled back, for writes), on a connection of its own.
    /// Runs on a thread of its own: a statement's run on the big tables can take a second, and the
    /// suite's cases side by side held both of the test run's cooperative threads for seconds
    /// (docs/testing.md, "Two cooperative threads").
    static func measure(_ sql: String, _ args: [any SQLBindable]) async throws -> (plan: [String], steps: Int32) {
        let (db, path) = try await open()
        nonisolated(unsafe) let connection = db
        defer { sqlite3_close_v2(db) }
        return try await blocking { try measure(connection, path: path, sql, args) }
    }

    /// The plan's lines, and the VM steps of one run inside a savepoint rolled back.
    /// `sql` prepared on `db` with `args` bound.
    static func prepare(_ db: OpaquePointer, path: String, _ text: String, _ args: [any SQLBindable]) throws -> OpaquePointer {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, text, -1, &stmt, nil) == SQLITE_OK, let stmt else {
            throw SQLiteError(extendedCode: 1, message: String(cString: sqlite3_errmsg(db)), sql: text, path: path)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, a) in args.enumerated() {
            switch a.sqlValue {
            case .integer(let v): sqlite3_bind_int64(stmt, Int32(i + 1), v)
            case .real(let v): sqlite3_bind_double(stmt, Int32(i + 1), v)
            case .text(let t): sqlite3_bind_text(stmt, Int32(i + 1), t, -1, transient)
            case .blob, .null: sqlite3_bind_null(stmt, Int32(i + 1))
            }
        }
        return stmt
    }

    static func measure(_ db: OpaquePointer, path: String, _ sql: String, _ args: [any SQLBindable]) throws -> (plan: [String], steps: Int32) {
        func prepare(_ text: String) throws -> OpaquePointer { try Self.prepare(db, path: path, text, args) }
        let explain = try prepare("EXPLAIN QUERY PLAN " + sql)
        var plan: [String] = []
        while sqlite3_step(explain) == SQLITE_ROW { plan.append(String(cString: sqlite3_column_text(explain, 3))) }
        sqlite3_finalize(explain)
        guard sqlite3_exec(db, "SAVEPOINT measure", nil, nil, nil) == SQLITE_OK else {
            throw SQLiteError(extendedCode: 1, message: String(cString: sqlite3_errmsg(db)), sql: "SAVEPOINT", path: path)
        }
        defer {
            sqlite3_exec(db, "ROLLBACK TO measure", nil, nil, nil)
            sqlite3_exec(db, "RELEASE measure", nil, nil, nil)
        }
        let stmt = try prepare(sql)
        defer { sqlite3_finalize(stmt) }
        var rc = sqlite3_step(stmt)
        while rc == SQLITE_ROW { rc = sqlite3_step(stmt) }
        guard rc == SQLITE_DONE else {
            throw SQLiteError(extendedCode: rc, message: String(cString: sqlite3_errmsg(db)), sql: sql, path: path)
        }
        return (plan, sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 0))
    }

    typealias SQL = SQLiteJobStore.SQL
    static let now = "2026-11-30T12:00:00.000Z"

    /// A statement of the store (its own text, from ``SQLiteJobStore/SQL``) with arguments that make it
    /// do its real work on this data.
    struct Statement: Sendable {
        var name: String
        var sql: String
        var args: [any SQLBindable]
        /// A temporary B-tree is allowed: it sorts the few rows of one job, or the few running jobs.
        var sortsFewRows = false
        /// It changes every matching row (`retry --all-failed`): only its plan is checked, not its steps.
        var bulk = false
    }

    static let runningID = Int64(finished + queued + 1)
    static let queuedID = Int64(finished + 5)
    static let failedID = Int64(10)
    static let later = "2026-11-30T12:05:00.000Z"

    /// Every statement of the job life cycle, in each of its filter variants.
    static let statements: [Statement] = [
        .init(name: "enqueue", sql: SQL.insertJob,
              args: ["c1", "t", "{}", Int64(0), now, Int64(3), "c1@2026-11-30T12:00Z", now, now, "video"]),
        .init(name: "enqueue: the job of a unique key", sql: SQL.jobByUniqueKey, args: ["c1@2026-11-30T12:00Z"]),
        .init(name: "lease", sql: SQL.leaseNext, args: ["w", later, now, "video"]),
        .init(name: "lease of a busy channel", sql: SQL.nextOfChannel, args: ["video", "c1", now]),
        .init(name: "lease of a rare channel", sql: SQL.nextOfChannel, args: ["video", "rare", now]),
        .init(name: "lease of a channel with none due", sql: SQL.nextOfChannel, args: ["video", "gone", now]),
        .init(name: "lease of a channel whose best priority is not due yet", sql: SQL.nextOfChannel, args: ["video", "later", now]),
        .init(name: "lease by id (run-once, and with channels)", sql: SQL.leaseByID, args: ["w", later, now, queuedID]),
        .init(name: "lease: the attempt", sql: SQL.insertAttempt,
              args: [runningID, Int64(2), Int64(2), "c1", "w", now, "media", 30.0]),
        .init(name: "a job by id (the fence, show, cancel, retry)", sql: SQL.jobByID, args: [runningID]),
        .init(name: "heartbeat", sql: SQL.extendLease, args: [later, now, runningID]),
        .init(name: "heartbeat of the attempt", sql: SQL.attemptHeartbeat, args: [now, runningID, Int64(1)]),
        .init(name: "checkpoint: the stage", sql: SQL.upsertStage,
              args: [runningID, "script", "running", Int64(1), "[]", now, nil as String?, nil as Int64?, nil as String?, nil as String?]),
        .init(name: "checkpoint: the stage run", sql: SQL.upsertStageRun,
              args: [runningID, Int64(1), Int64(1), "script", "running", now, nil as String?, nil as Int64?, nil as String?, nil as String?]),
        .init(name: "checkpoint: the current stage", sql: SQL.setCurrentStage, args: ["script", now, runningID]),
        .init(name: "complete (fenced)", sql: SQL.completeFenced, args: [now, runningID, Int64(1), "w-1"]),
        .init(name: "end of an attempt", sql: SQL.finishAttempt,
              args: [now, "failed", "script", "x.y", "m", runningID, Int64(1)]),
        .init(name: "end of an attempt: its stage runs", sql: SQL.closeStageRuns, args: [now, "x.y", "m", runningID, Int64(1)]),
        .init(name: "end of an attempt: its stages", sql: SQL.closeStages, args: [now, "x.y", "m", runningID]),
        .init(name: "fail, cancel (finish)", sql: SQL.finishJob, args: ["failed", now, now, "x.y", "m", runningID]),
        .init(name: "retry after a backoff, hand-back, release (requeue)", sql: SQL.requeue,
              args: [later, now, Int64(0), "x.y", "m", runningID]),
        .init(name: "cancel of a running job", sql: SQL.requestCancel, args: [now, runningID]),
        .init(name: "admin retry", sql: SQL.retryJob, args: [now, failedID]),
        .init(name: "retry --all-failed --channel (none failed)", sql: SQL.retryFailedOfChannel, args: [now, "rare"]),
        .init(name: "retry --all-failed", sql: SQL.retryFailed, args: [now], bulk: true),
        .init(name: "a dead worker's jobs", sql: SQL.runningOf, args: ["w-1"]),
        .init(name: "workers to probe", sql: SQL.runningWorkersOfHost, args: ["host"]),
        .init(name: "a worker found dead", sql: SQL.markWorkerDead, args: [now, "w-1"]),
        .init(name: "expired-lease check", sql: SQL.anyExpired, args: [now]),
        .init(name: "expired leases", sql: SQL.expired, args: [now]),
        .init(name: "running jobs", sql: SQL.runningJobs, args: [], sortsFewRows: true),
        .init(name: "status counts", sql: SQL.jobCounts, args: []),
        .init(name: "oldest due job", sql: SQL.oldestDue, args: [now]),
        .init(name: "next due time", sql: SQL.nextRunAt, args: ["video"]),
        .init(name: "next due time of a channel", sql: SQL.nextRunOfChannel, args: ["video", "rare"]),
        .init(name: "list-failed", sql: SQL.listFailed, args: [Timestamp.string(Timestamp.earliest), Int64(50)]),
        .init(name: "list-failed --since", sql: SQL.listFailed, args: ["2026-06-01T00:00:00.000Z", Int64(50)]),
        .init(name: "list-failed --channel", sql: SQL.listFailedOfChannel, args: ["c2", Timestamp.string(Timestamp.earliest), Int64(50)]),
        .init(name: "list-failed --channel --since", sql: SQL.listFailedOfChannel, args: ["c2", "2026-06-01T00:00:00.000Z", Int64(50)]),
        .init(name: "list-failed --code (one failure in 100)", sql: SQL.listFailedWithCode,
              args: ["work.stuck", Timestamp.string(Timestamp.earliest), Int64(50)]),
        .init(name: "list-failed --code (most failures)", sql: SQL.listFailedWithCode,
              args: ["media.ffmpeg", "2026-06-01T00:00:00.000Z", Int64(50)]),
        .init(name: "list-failed --code of a code none has", sql: SQL.listFailedWithCode,
              args: ["no.such_code", Timestamp.string(Timestamp.earliest), Int64(50)]),
        .init(name: "list-failed --channel --code", sql: SQL.listFailedOfChannelWithCode,
              args: ["c0", "work.stuck", Timestamp.string(Timestamp.earliest), Int64(50)]),
        .init(name: "list-failed --channel --code of a channel with none", sql: SQL.listFailedOfChannelWithCode,
              args: ["c1", "work.stuck", Timestamp.string(Timestamp.earliest), Int64(50)]),
        .init(name: "list-failed --channel of a channel with none", sql: SQL.listFailedOfChannel,
              args: ["rare", Timestamp.string(Timestamp.earliest), Int64(50)]),
        .init(name: "history", sql: SQL.history, args: [Int64(50)]),
        .init(name: "history --channel", sql: SQL.historyOfChannel, args: ["c3", Int64(50)]),
        .init(name: "history --channel of a channel with none", sql: SQL.historyOfChannel, args: ["rare", Int64(50)]),
        .init(name: "show: a job's stages", sql: SQL.stagesOfJob, args: [failedID], sortsFewRows: true),
        .init(name: "show: a job's attempts", sql: SQL.attemptsOfJob, args: [failedID], sortsFewRows: true),
        .init(name: "show: a job's stage runs", sql: SQL.stageRunsOfJob, args: [failedID], sortsFewRows: true),
        .init(name: "prune (nothing old enough)", sql: SQL.pruneBatch, args: ["2025-01-01T00:00:00.000Z", Int64(500)]),
        .init(name: "topic's last job", sql: SQL.topicLastJob, args: ["c1", "topic 7"]),
        .init(name: "topic's last slot", sql: SQL.topicLastSlot, args: ["c1", "topic 7"]),
        .init(name: "topic's last pruned job", sql: SQL.topicLastPruned, args: ["c1", "topic 7"]),
        .init(name: "prune: did a job it would delete run", sql: SQL.prunableRan, args: ["2026-06-01T00:00:00.000Z"]),
    ]

    /// What is wrong with a statement's plan and steps, if anything.
    static func problems(_ statement: Statement, _ plan: [String], _ steps: Int32) -> [String] {
        let text = plan.joined(separator: "; ")
        var out: [String] = []
        if !statement.sortsFewRows && text.contains("TEMP B-TREE") { out.append("\(statement.name) sorts: \(text)") }
        if !statement.bulk && steps >= stepBound { out.append("\(statement.name): \(steps) VM steps; plan: \(text)") }
        if plan.contains(where: { $0.hasPrefix("SCAN jobs") && !$0.contains("USING") }) { out.append("\(statement.name) scans the jobs table: \(text)") }
        return out
    }

    @Test(arguments: statements.indices)
    func aStatementReadsFewRowsOnBigTables(_ index: Int) async throws {
        let statement = Self.statements[index]
        let (plan, steps) = try await Self.measure(statement.sql, statement.args)
        let problems = Self.problems(statement, plan, steps)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// The same statements with the statistics `ANALYZE` gathers (the app never runs it, an operator
    /// may): with them the planner prefers other indexes for some statements (a channel's next job,
    /// in its form before the skip scan over priority levels, took `jobs_due` and sorted the
    /// channel's queue), and the `INDEXED BY` pins must hold the plans. The statistics live in a
    /// transaction that is rolled back, so the other tests see none.
    @Test func theStatementsKeepTheirPlansWithStatistics() async throws {
        let (db, path) = try await Self.open()
        nonisolated(unsafe) let connection = db
        defer { sqlite3_close_v2(db) }
        // ANALYZE and every statement on the big tables, seconds of SQLite: on a thread of its own,
        // as in `measure(_:_:)`.
        let (began, analyzed, statRows, problems) = try await blocking { () throws -> (Int32, Int32, Int32, [String]) in
            let began = sqlite3_exec(connection, "BEGIN IMMEDIATE", nil, nil, nil)
            defer { sqlite3_exec(connection, "ROLLBACK", nil, nil, nil) }
            let analyzed = sqlite3_exec(connection, "ANALYZE", nil, nil, nil)
            // The statistics are there for the planner: rows of `sqlite_stat1` for the jobs table's indexes.
            var stat: OpaquePointer?
            var statRows: Int32 = -1
            if sqlite3_prepare_v2(connection, "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'jobs'", -1, &stat, nil) == SQLITE_OK,
               sqlite3_step(stat) == SQLITE_ROW {
                statRows = sqlite3_column_int(stat, 0)
            }
            sqlite3_finalize(stat)
            var problems: [String] = []
            for statement in Self.statements {
                let (plan, steps) = try Self.measure(connection, path: path, statement.sql, statement.args)
                problems += Self.problems(statement, plan, steps)
            }
            return (began, analyzed, statRows, problems)
        }
        #expect(began == SQLITE_OK && analyzed == SQLITE_OK)
        #expect(statRows > 0, "sqlite_stat1 has \(statRows) rows for jobs after ANALYZE")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// The check itself can fail: the lease as the planner would run it without `INDEXED BY`
    /// (the statement this release replaced) sorts the whole queue.
    @Test func theOldLeaseStatementFailsTheCheck() async throws {
        let old = """
            UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_token = lease_token + 1,
                   lease_expires_at = ?2, updated_at = ?3
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ?3 ORDER BY priority, run_at, id LIMIT 1)
            """
        let (plan, steps) = try await Self.measure(old, ["w", "2026-11-30T12:05:00.000Z", Self.now])
        #expect(plan.joined().contains("TEMP B-TREE") || steps >= Self.stepBound)
    }

    /// And the lease as it was before its skip scan over priority levels (an ordered scan with the
    /// due time as a filter) steps over every job of the "later" channel, which are not due yet; so
    /// does a channel's next job.
    @Test func theLeaseThatFiltersOnTheDueTimeFailsTheCheck() async throws {
        let old = """
            UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_token = lease_token + 1,
                   lease_expires_at = ?2, updated_at = ?3
             WHERE id = (SELECT id FROM jobs INDEXED BY jobs_lease WHERE state = 'queued' AND kind = ?4 AND run_at <= ?3
                          ORDER BY priority, run_at, id LIMIT 1)
            """
        let (_, steps) = try await Self.measure(old, ["w", "2026-11-30T12:05:00.000Z", Self.now, "video"])
        #expect(steps >= Self.stepBound)
        let oldOfChannel = """
            SELECT id, priority, run_at FROM jobs INDEXED BY jobs_lease_channel
             WHERE state = 'queued' AND kind = ?1 AND channel = ?2 AND run_at <= ?3
             ORDER BY priority, run_at, id LIMIT 1
            """
        let (_, channelSteps) = try await Self.measure(oldOfChannel, ["video", "later", Self.now])
        #expect(channelSteps >= Self.stepBound)
    }

    /// The lease picks what lease order says: the first due job of the best priority level that has
    /// one, the earliest of that level (here priority 0: the "later" channel's level -1 is not due,
    /// and level 0 is before its own due jobs at 5); a channel's next job likewise.
    @Test func theSkipScanLeasesInLeaseOrder() async throws {
        let (db, path) = try await Self.open()
        nonisolated(unsafe) let connection = db
        defer { sqlite3_close_v2(db) }
        // Reads of the big tables without an index: on a thread of its own (see `measure(_:_:)`).
        let (expected, leased, laterExpected, laterNext) = try await blocking { () throws -> ([Int64], [Int64], [Int64], [Int64]) in
            func ids(_ sql: String, _ args: [String]) throws -> [Int64] {
                let stmt = try Self.prepare(connection, path: path, sql, args)
                defer { sqlite3_finalize(stmt) }
                var out: [Int64] = []
                while sqlite3_step(stmt) == SQLITE_ROW { out.append(sqlite3_column_int64(stmt, 0)) }
                return out
            }
            let expected = try ids("""
                SELECT id FROM jobs NOT INDEXED WHERE state = 'queued' AND kind = 'video' AND run_at <= ?1
                 ORDER BY priority, run_at, id LIMIT 1
                """, [Self.now])
            // The lease itself, rolled back: its RETURNING row's first column is the job's id.
            sqlite3_exec(connection, "SAVEPOINT lease", nil, nil, nil)
            let leased = try ids(SQL.leaseNext, ["w", "2026-11-30T12:05:00.000Z", Self.now, "video"])
            sqlite3_exec(connection, "ROLLBACK TO lease", nil, nil, nil)
            sqlite3_exec(connection, "RELEASE lease", nil, nil, nil)
            let laterExpected = try ids("""
                SELECT id FROM jobs NOT INDEXED WHERE state = 'queued' AND kind = 'video' AND channel = 'later' AND run_at <= ?1
                 ORDER BY priority, run_at, id LIMIT 1
                """, [Self.now])
            return (expected, leased, laterExpected, try ids(SQL.nextOfChannel, ["video", "later", Self.now]))
        }
        #expect(!expected.isEmpty && leased == expected, "lease order gives \(expected), the lease \(leased)")
        #expect(laterExpected.count == 1 && laterNext == laterExpected, "lease order gives \(laterExpected), the channel's next \(laterNext)")
    }

    /// And `retry --all-failed --channel` as one statement for both variants (`?2 IS NULL OR channel = ?2`,
    /// the text this release replaced) reads every failed job of every channel.
    @Test func theOldRetryOfAChannelFailsTheCheck() async throws {
        let old = """
            UPDATE jobs SET state = 'queued', run_at = ?1, updated_at = ?1, finished_at = NULL, cancel_requested = 0,
                   max_attempts = max(max_attempts, attempt + 1)
             WHERE state = 'failed' AND (?2 IS NULL OR channel = ?2) RETURNING id
            """
        let (_, steps) = try await Self.measure(old, [Self.now, "rare"])
        #expect(steps >= Self.stepBound)
    }
}
