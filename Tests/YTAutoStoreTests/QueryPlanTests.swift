import CSQLite
import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// Every hot statement stays logarithmic in the table's size, on tables of realistic size and
/// skew: 1,000,000 finished jobs and attempts, 100,000 queued jobs (one channel with only ten),
/// a few running. Two checks per statement, not the planner's good will: its plan has no temporary
/// B-tree (a sort of every matching row), and running it takes few virtual-machine steps
/// (`SQLITE_STMTSTATUS_VM_STEP`), where a scan of the queue or the history would take hundreds
/// of thousands.
@Suite(.serialized) struct QueryPlanTests {
    static let finished = 1_000_000
    static let queued = 100_000
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
                           CASE WHEN i % 10 = 0 THEN 'media.ffmpeg' END, 'video',
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
            }
        }
        return (dir, path)
    }

    /// The plan's lines, and the VM steps of one run (inside a transaction rolled back, for writes).
    static func measure(_ sql: String, _ args: [any SQLBindable]) async throws -> (plan: [String], steps: Int32) {
        let path = await fixture.path
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db else {
            throw SQLiteError(extendedCode: 1, message: "open", path: path)
        }
        defer { sqlite3_close_v2(db) }
        func prepare(_ text: String) throws -> OpaquePointer {
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
        let explain = try prepare("EXPLAIN QUERY PLAN " + sql)
        var plan: [String] = []
        while sqlite3_step(explain) == SQLITE_ROW { plan.append(String(cString: sqlite3_column_text(explain, 3))) }
        sqlite3_finalize(explain)
        sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil)
        defer { sqlite3_exec(db, "ROLLBACK", nil, nil, nil) }
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

    /// Each hot statement with arguments that make it do its real work on this data.
    static let statements: [(name: String, sql: String, args: [any SQLBindable])] = [
        ("lease", SQL.leaseNext, ["w", "2026-11-30T12:05:00.000Z", now, "video"]),
        ("lease of a busy channel", SQL.nextOfChannel, ["video", "c1", now]),
        ("lease of a rare channel", SQL.nextOfChannel, ["video", "rare", now]),
        ("lease of a channel with none due", SQL.nextOfChannel, ["video", "gone", now]),
        ("lease by id (run-once)", SQL.leaseByID, ["w", "2026-11-30T12:05:00.000Z", now, Int64(1_000_005)]),
        ("complete (fenced)", SQL.completeFenced, [now, Int64(finished + queued + 1), Int64(1), "w-1"]),
        ("a dead worker's jobs", SQL.runningOf, ["w-1"]),
        ("expired-lease check", SQL.anyExpired, [now]),
        ("expired leases", SQL.expired, [now]),
        ("status counts", SQL.jobCounts, []),
        ("oldest due job", SQL.oldestDue, [now]),
        ("next due time", SQL.nextRunAt, ["video"]),
        ("next due time of a channel", SQL.nextRunOfChannel, ["video", "rare"]),
        ("list-failed", SQL.listFailed, ["2026-01-01T00:00:00.000Z", Int64(50)]),
        ("list-failed --channel", SQL.listFailedOfChannel, ["c2", "2026-01-01T00:00:00.000Z", Int64(50)]),
        ("history", SQL.history, [Int64(50)]),
        ("history --channel", SQL.historyOfChannel, ["c3", Int64(50)]),
        ("prune (nothing old enough)", SQL.pruneBatch, ["2025-01-01T00:00:00.000Z", Int64(500)]),
        ("topic's last job", SQL.topicLastJob, ["c1", "topic 7"]),
        ("topic's last slot", SQL.topicLastSlot, ["c1", "topic 7"]),
    ]

    @Test(arguments: statements.indices)
    func aHotStatementReadsFewRowsOnBigTables(_ index: Int) async throws {
        let (name, sql, args) = Self.statements[index]
        let (plan, steps) = try await Self.measure(sql, args)
        let text = plan.joined(separator: "; ")
        #expect(!text.contains("TEMP B-TREE"), "\(name): \(text)")
        #expect(steps < Self.stepBound, "\(name): \(steps) VM steps; plan: \(text)")
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
}
