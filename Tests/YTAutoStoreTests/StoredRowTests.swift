import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// A row changed outside ytauto (an SQL tool, another program) into something the schema's
/// types do not allow is refused with the table, the row and the column, never read as 0, 1970
/// or a default state that the queue would then act on.
@Suite struct StoredRowTests {
    /// A store with one job that ran its first stage, and a second connection on the same file that
    /// changes it as another program would (with the file's CHECK constraints off).
    struct Corrupted {
        let dir = TempDir()
        let store: SQLiteJobStore
        let jobID: Int64

        init() async throws {
            store = try SQLiteJobStore(path: dir.path("jobs.db"))
            jobID = try await store.enqueue(NewJob(channel: "facts", topic: "owls")).job.id
            let lease = try #require(try await store.lease(worker: "w", channels: nil, duration: .seconds(60)))
            try await store.checkpoint(lease, stage: "script", state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
        }

        func change(_ sql: String) throws {
            let other = try Connection(path: dir.path("jobs.db"))
            try other.execute("PRAGMA ignore_check_constraints = ON")
            try other.execute(sql)
        }
    }

    /// The error `body` threw, which must be a ``StoredRowError``.
    func refusal(_ body: () async throws -> Void) async throws -> StoredRowError {
        let error = await #expect(throws: StoredRowError.self) { try await body() }
        return try #require(error)
    }

    @Test func aJobWithAStateNoCodeWritesIsRefusedNamingTheColumnAndTheJob() async throws {
        let c = try await Corrupted()
        try c.change("UPDATE jobs SET state = 'bogus' WHERE id = \(c.jobID)")
        let e = try await refusal { _ = try await c.store.job(id: c.jobID) }
        #expect(e.table == "jobs" && e.column == "state" && e.row == "job \(c.jobID)" && e.found == "'bogus'")
        #expect(e.code == "store.corrupt_row" && !e.isRetryable)
        #expect(e.message.contains("job \(c.jobID)") && e.message.contains("column state holds 'bogus'"))
    }

    @Test func aDateColumnHoldingOtherTextIsRefusedNotReadAs1970() async throws {
        let c = try await Corrupted()
        try c.change("UPDATE jobs SET run_at = 'next tuesday' WHERE id = \(c.jobID)")
        let e = try await refusal { _ = try await c.store.job(id: c.jobID) }
        #expect(e.column == "run_at" && e.row == "job \(c.jobID)" && e.expected == "a UTC ISO-8601 timestamp")
        // The sweep and the admin commands read the same rows: they refuse too.
        _ = try await refusal { _ = try await c.store.runningJobs() }
    }

    @Test func aNumberColumnHoldingTextIsRefusedNotReadAsZero() async throws {
        let c = try await Corrupted()
        try c.change("UPDATE jobs SET attempt = 'three' WHERE id = \(c.jobID)")
        let e = try await refusal { _ = try await c.store.job(id: c.jobID) }
        #expect(e.column == "attempt" && e.found == "'three'")
    }

    @Test func stagesStageRunsAttemptsAndWorkersNameTheirRows() async throws {
        let c = try await Corrupted()
        try c.change("UPDATE job_stages SET started_at = 'yesterday' WHERE job_id = \(c.jobID)")
        let stage = try await refusal { _ = try await c.store.stages(jobID: c.jobID) }
        #expect(stage.table == "job_stages" && stage.column == "started_at" && stage.row == "stage script of job \(c.jobID)"
                && stage.found == "'yesterday'")

        try c.change("UPDATE job_stage_runs SET state = 'half done' WHERE job_id = \(c.jobID)")
        let run = try await refusal { _ = try await c.store.stageRuns(jobID: c.jobID) }
        #expect(run.table == "job_stage_runs" && run.column == "state" && run.row == "stage script of job \(c.jobID)")

        try c.change("UPDATE job_attempts SET worker_id = x'00ff' WHERE job_id = \(c.jobID)")
        let attempt = try await refusal { _ = try await c.store.attempts(jobID: c.jobID) }
        #expect(attempt.table == "job_attempts" && attempt.column == "worker_id" && attempt.row == "attempt 1 of job \(c.jobID)"
                && attempt.found == "a 2-byte blob")

        let worker = try await c.store.registerWorker(id: "w-1")
        defer { worker.lock.release() }
        try c.change("UPDATE workers SET last_seen_at = 12 WHERE id = 'w-1'")
        let refused = try await refusal { _ = try await c.store.workers() }
        #expect(refused.table == "workers" && refused.column == "last_seen_at" && refused.row == "worker w-1" && refused.found == "'12'")
    }
}

/// The same refusal on PostgreSQL: the same error type, naming the table, the row and the column
/// as the SQLite store does (its CHECK constraints dropped, as another program's schema change might).
@Suite(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
struct PostgresStoredRowTests {
    @Test func aRowNoCodeWritesIsRefusedNamingTableRowAndColumn() async throws {
        let f = try await Fixture(.postgres)
        let id = try await f.store.enqueue(NewJob(channel: "facts", topic: "owls")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(60)))
        try await f.execute("ALTER TABLE jobs DROP CONSTRAINT jobs_state_check")
        try await f.execute("UPDATE jobs SET state = 'bogus', lease_owner = NULL WHERE id = \(id)")
        let job = await #expect(throws: StoredRowError.self) { _ = try await f.store.job(id: id) }
        #expect(job?.table == "jobs" && job?.row == "job \(id)" && job?.column == "state" && job?.found == "'bogus'"
                && job?.expected == "a job state", "\(String(describing: job))")
        try await f.execute("ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_outcome_check")
        try await f.execute("UPDATE job_attempts SET outcome = 'vanished', finished_at = now() WHERE job_id = \(id)")
        let attempt = await #expect(throws: StoredRowError.self) { _ = try await f.store.attempts(jobID: id) }
        #expect(attempt?.table == "job_attempts" && attempt?.row == "attempt \(lease.attempt) of job \(id)" && attempt?.column == "outcome")
        #expect(attempt?.code == "store.corrupt_row" && attempt?.isRetryable == false)
    }
}
