import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// Run history that tells the truth: every stage run kept, nothing left `running` by an attempt
/// that ended, the last error cleared on success, reasons for hand-backs, heartbeats recorded.
@Suite struct RunHistoryTests {
    @Test(arguments: StoreEngine.all) func aLostAttemptClosesTheStageItLeftRunning(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "facts")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(10)))
        try await f.store.checkpoint(lease, stage: "narration", state: .running, artifacts: [], startedAt: f.clock.now, error: nil)
        f.clock.advance(11)
        let report = try await f.store.reclaim()
        #expect(report.requeued == [id])
        let stage = try #require(try await f.store.stages(jobID: id).first { $0.stage == "narration" })
        #expect(stage.state == .failed)
        #expect(stage.errorCode == "lease.expired")
        #expect(stage.durationMS == 11_000)
        let runs = try await f.store.stageRuns(jobID: id)
        #expect(runs.count == 1)
        #expect(runs.first?.state == .failed && runs.first?.errorCode == "lease.expired" && runs.first?.finishedAt != nil)
    }

    @Test(arguments: StoreEngine.all) func everyRunOfAStageIsKeptAcrossAttempts(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "facts", maxAttempts: 3)).job.id
        for n in 1...2 {
            let lease = try #require(try await f.store.lease(worker: "w\(n)", channels: nil, duration: .seconds(30)))
            let started = f.clock.now
            try await f.store.checkpoint(lease, stage: "script", state: .succeeded, artifacts: [], startedAt: started, error: nil)
            try await f.store.checkpoint(lease, stage: "narration", state: .running, artifacts: [], startedAt: started, error: nil)
            let failure = JobFailure(code: "tts.failed", message: "narration failed \(n)", isRetryable: true)
            f.clock.advance(2)
            try await f.store.checkpoint(lease, stage: "narration", state: .failed, artifacts: [], startedAt: started, error: failure)
            _ = try await f.store.fail(lease, error: failure)
            f.clock.advance(3600)
        }
        let runs = try await f.store.stageRuns(jobID: id).filter { $0.stage == "narration" }
        #expect(runs.map(\.attempt) == [1, 2])
        #expect(runs.map(\.errorMessage) == ["narration failed 1", "narration failed 2"])
        #expect(runs.allSatisfy { $0.state == .failed && $0.durationMS == 2000 })
        // job_stages keeps the latest run of each stage (what a retry resumes from).
        #expect(try await f.store.stages(jobID: id).filter { $0.stage == "narration" }.map(\.attempt) == [2])
    }

    @Test(arguments: StoreEngine.all) func aJobThatSucceedsHasNoLastErrorAndItsHistoryKeepsIt(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "facts", maxAttempts: 3)).job.id
        let first = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        _ = try await f.store.fail(first, error: JobFailure(code: "llm.rate_limited", message: "slow down", isRetryable: true))
        #expect(try await f.row(id).lastErrorCode == "llm.rate_limited")
        f.clock.advance(3600)
        let second = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let done = try await f.store.complete(second)
        #expect(done.state == .succeeded)
        #expect(done.lastErrorCode == nil && done.lastErrorMessage == nil)
        #expect(try await f.store.attempts(jobID: id).map(\.errorCode) == ["llm.rate_limited", nil])
    }

    @Test(arguments: StoreEngine.all) func adminRetryKeepsWhenTheJobWasFirstDue(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let due = f.clock.now.addingTimeInterval(-86_400)
        let id = try await f.store.enqueue(NewJob(channel: "facts", runAt: due, maxAttempts: 1)).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        _ = try await f.store.fail(lease, error: JobFailure(code: "x.bad", message: "bad", isRetryable: false))
        f.clock.advance(600)
        let retried = try await f.store.retry(jobID: id)
        #expect(retried.runAt == f.clock.now)
        #expect(retried.scheduledAt == due)
    }

    @Test(arguments: StoreEngine.all) func aHandedBackAttemptSaysWhy(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "facts")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        try await f.store.checkpoint(lease, stage: "clips", state: .running, artifacts: [], startedAt: f.clock.now, error: nil)
        let why = JobFailure(code: "worker.shutdown", message: "grace ended during clips", isRetryable: true)
        let job = try await f.store.handBack(lease, reason: why)
        #expect(job.state == .queued && job.attempt == 0)
        #expect(job.lastErrorCode == nil)
        let attempt = try #require(try await f.store.attempts(jobID: id).first)
        #expect(attempt.outcome == .handedBack)
        #expect(attempt.errorCode == "worker.shutdown" && attempt.errorMessage == "grace ended during clips")
        // The stage it cut off is closed too.
        #expect(try await f.store.stageRuns(jobID: id).map(\.state) == [.failed])
    }

    @Test(arguments: StoreEngine.all) func eachLeaseRecordsItsLengthAndLastHeartbeat(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "facts")).job.id
        let leasedAt = f.clock.now
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, kind: .video, pipeline: "media", duration: .seconds(30)))
        var attempt = try #require(try await f.store.attempts(jobID: id).first)
        #expect(attempt.leaseSeconds == 30 && attempt.heartbeatAt == leasedAt && attempt.pipeline == "media")
        f.clock.advance(10)
        _ = try await f.store.heartbeat(lease, duration: .seconds(30))
        attempt = try #require(try await f.store.attempts(jobID: id).first)
        #expect(attempt.heartbeatAt == leasedAt.addingTimeInterval(10))
        // "Running jobs and time since their last heartbeat" is a plain query.
        let then = Timestamp.string(leasedAt.addingTimeInterval(25))
        let age = try await f.number("""
            SELECT (julianday('\(then)') - julianday(a.heartbeat_at)) * 86400 AS n FROM jobs j
              JOIN job_attempts a ON a.job_id = j.id AND a.lease_token = j.lease_token WHERE j.state = 'running'
            """, postgres: """
            SELECT extract(epoch FROM (timestamptz '\(then)' - a.heartbeat_at)) AS n FROM jobs j
              JOIN job_attempts a ON a.job_id = j.id AND a.lease_token = j.lease_token WHERE j.state = 'running'
            """)
        #expect(abs((age ?? 0) - 15) < 0.01)
    }

    @Test(arguments: StoreEngine.all) func diagnosticJobsAndRealJobsAreLeasedOnlyByTheirOwnWorkers(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let real = try await f.store.enqueue(NewJob(channel: "facts", topic: "real")).job.id
        let diagnostic = try await f.store.enqueue(NewJob(channel: "facts", topic: "load test", kind: .synthetic)).job.id
        let a = try #require(try await f.store.lease(worker: "diag", channels: nil, kind: .synthetic, pipeline: "synthetic 5 ms", duration: .seconds(30)))
        #expect(a.jobID == diagnostic)
        #expect(try await f.store.lease(worker: "diag", channels: ["facts"], kind: .synthetic, pipeline: "synthetic 5 ms", duration: .seconds(30)) == nil)
        #expect(try await f.store.lease(worker: "diag", channels: nil, kind: .synthetic, pipeline: "synthetic 5 ms", duration: .seconds(30)) == nil)
        let b = try #require(try await f.store.lease(worker: "media", channels: ["facts"], kind: .video, pipeline: "media", duration: .seconds(30)))
        #expect(b.jobID == real)
        #expect(try await f.store.attempts(jobID: diagnostic).first?.pipeline == "synthetic 5 ms")
        #expect(try await f.store.attempts(jobID: real).first?.pipeline == "media")
    }

    @Test(arguments: StoreEngine.all) func aLeaseByChannelTakesTheFirstInLeaseOrderAcrossItsChannels(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let now = f.clock.now
        _ = try await f.store.enqueue(NewJob(channel: "a", priority: 1, runAt: now.addingTimeInterval(-100)))
        let b = try await f.store.enqueue(NewJob(channel: "b", priority: 0, runAt: now.addingTimeInterval(-10))).job.id
        _ = try await f.store.enqueue(NewJob(channel: "c", priority: 0, runAt: now.addingTimeInterval(-1000)))
        _ = try await f.store.enqueue(NewJob(channel: "b", priority: 0, runAt: now.addingTimeInterval(10)))
        let lease = try #require(try await f.store.lease(worker: "w", channels: ["a", "b"], duration: .seconds(30)))
        #expect(lease.jobID == b)
    }

    @Test(arguments: StoreEngine.all) func timesPastYear9999AreRefusedAndNothingIsLeased(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "facts")).job.id
        await #expect(throws: TimestampOutOfRange.self) {
            _ = try await f.store.lease(worker: "w", channels: nil, duration: .seconds(300_000_000_000))
        }
        #expect(try await f.row(id).state == .queued)
        await #expect(throws: TimestampOutOfRange.self) {
            _ = try await f.store.enqueue(NewJob(channel: "facts", runAt: Date(timeIntervalSince1970: 1e13)))
        }
        // The text form never takes a fifth year digit, which would sort before every real time.
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1e13)) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1e13)) > Timestamp.string(Date()))
    }

    @Test(arguments: StoreEngine.all) func anErrorAskingForAnAbsurdWaitIsHeldToTwoDays(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "facts")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let far = JobFailure(code: "llm.rate_limited", message: "Retry-After: 99999999999", isRetryable: true,
                             retryAt: f.clock.now.addingTimeInterval(99_999_999_999))
        let job = try await f.store.fail(lease, error: far)
        #expect(job.state == .queued)
        #expect(job.runAt == f.clock.now.addingTimeInterval(RetryPolicy.longestRequestedWait))
        #expect(try await f.row(id).runAt.timeIntervalSince(f.clock.now) == 2 * 86_400)
    }
}
