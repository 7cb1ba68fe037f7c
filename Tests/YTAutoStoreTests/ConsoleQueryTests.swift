import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport

/// What the web console reads and records, on every engine: the job list's filters and keyset
/// pages, the finished-per-hour and failures-by-code aggregates, and the audit log.
@Suite struct ConsoleQueryTests {
    func console(_ f: Fixture) throws -> any ConsoleStore {
        try #require(f.store as? any ConsoleStore, "the store does not answer the console's queries")
    }

    /// Ends a job: leased, then completed, or failed with `code` for good (one attempt).
    func finish(_ s: any OperatorStore, channel: String, topic: String, code: String?) async throws -> Int64 {
        let id = try await s.enqueue(NewJob(channel: channel, topic: topic, maxAttempts: 1)).job.id
        let lease = try #require(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
        if let code {
            _ = try await s.fail(lease, error: JobFailure(code: code, message: "it broke", isRetryable: false))
        } else {
            _ = try await s.complete(lease)
        }
        return id
    }

    @Test(arguments: StoreEngine.all) func theJobListFiltersAndPagesByKeyset(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = try console(f)
        var queued: [Int64] = []
        for i in 0..<7 { queued.append(try await s.enqueue(NewJob(channel: "a", topic: "Octopus fact \(i)")).job.id) }
        let failedA = try await finish(s, channel: "a", topic: "Why 100% of cats_purr", code: "provider.rate_limited")
        let failedB = try await finish(s, channel: "b", topic: "octopus again", code: "stage.timeout")
        let done = try await finish(s, channel: "b", topic: "bees", code: nil)

        // Newest first, every job.
        #expect(try await s.jobs(matching: JobQuery(), limit: 100).map(\.id) == ([done, failedB, failedA] + queued.reversed()))
        // Each filter alone, and together.
        #expect(try await s.jobs(matching: JobQuery(state: .failed), limit: 100).map(\.id) == [failedB, failedA])
        #expect(try await s.jobs(matching: JobQuery(channel: "b"), limit: 100).map(\.id) == [done, failedB])
        #expect(try await s.jobs(matching: JobQuery(errorCode: "stage.timeout"), limit: 100).map(\.id) == [failedB])
        #expect(try await s.jobs(matching: JobQuery(topicContains: "OCTOPUS"), limit: 100).map(\.id) == [failedB] + queued.reversed())
        #expect(try await s.jobs(matching: JobQuery(state: .failed, channel: "a"), limit: 100).map(\.id) == [failedA])
        // LIKE's own characters are text: "100%" and "_" match only themselves.
        #expect(try await s.jobs(matching: JobQuery(topicContains: "100%"), limit: 100).map(\.id) == [failedA])
        #expect(try await s.jobs(matching: JobQuery(topicContains: "s_p"), limit: 100).map(\.id) == [failedA])
        #expect(try await s.jobs(matching: JobQuery(topicContains: "%"), limit: 100).map(\.id) == [failedA])
        // Keyset pages: 4, 4, 2, nothing lost or repeated.
        var seen: [Int64] = []
        var q = JobQuery()
        while true {
            let page = try await s.jobs(matching: q, limit: 4)
            seen += page.map(\.id)
            guard let last = page.last, page.count == 4 else { break }
            q.beforeID = last.id
        }
        #expect(seen == ([done, failedB, failedA] + queued.reversed()))
    }

    @Test(arguments: StoreEngine.all) func finishedJobsAreCountedByHourAndFailuresByCode(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = try console(f)
        let start = f.clock.now
        _ = try await finish(s, channel: "a", topic: "1", code: nil)
        _ = try await finish(s, channel: "a", topic: "2", code: "provider.rate_limited")
        f.clock.advance(3600)
        _ = try await finish(s, channel: "a", topic: "3", code: nil)
        _ = try await finish(s, channel: "b", topic: "4", code: nil)
        _ = try await finish(s, channel: "b", topic: "5", code: "provider.rate_limited")
        _ = try await finish(s, channel: "b", topic: "6", code: "stage.timeout")
        _ = try await s.enqueue(NewJob(channel: "a", topic: "still queued"))
        let hour0 = Date(timeIntervalSince1970: (start.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        let hour1 = hour0.addingTimeInterval(3600)
        let counts = try await s.finishedByHour(since: start.addingTimeInterval(-60))
        #expect(Set(counts) == [
            HourlyCount(hour: hour0, state: .succeeded, count: 1), HourlyCount(hour: hour0, state: .failed, count: 1),
            HourlyCount(hour: hour1, state: .succeeded, count: 2), HourlyCount(hour: hour1, state: .failed, count: 2),
        ])
        #expect(try await s.finishedByHour(since: hour1).map(\.count).reduce(0, +) == 4)
        #expect(try await s.failuresByCode(since: start.addingTimeInterval(-60)) == [
            CodeCount(code: "provider.rate_limited", count: 2), CodeCount(code: "stage.timeout", count: 1),
        ])
        #expect(try await s.failuresByCode(since: hour1) == [
            CodeCount(code: "provider.rate_limited", count: 1), CodeCount(code: "stage.timeout", count: 1),
        ])
    }

    @Test(arguments: StoreEngine.all) func stageRunsAreReadWithTheirDurations(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = try console(f)
        let id = try await s.enqueue(NewJob(channel: "a", topic: "t")).job.id
        let lease = try #require(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(600), only: id))
        let start = f.clock.now
        f.clock.advance(5)
        try await s.checkpoint(lease, stage: "script", state: .succeeded, artifacts: [], startedAt: start, error: nil)
        let second = f.clock.now
        f.clock.advance(90)
        try await s.checkpoint(lease, stage: "narration", state: .failed, artifacts: [], startedAt: second,
                               error: JobFailure(code: "tts.failed", message: "no", isRetryable: true))
        #expect(try await s.stageDurations(since: start, limit: 10) == [
            StageDuration(stage: "narration", state: .failed, durationMS: 90_000), StageDuration(stage: "script", state: .succeeded, durationMS: 5_000),
        ])
        #expect(try await s.stageDurations(since: second, limit: 10).map(\.stage) == ["narration"])
        #expect(try await s.stageDurations(since: start, limit: 1).count == 1)
    }

    @Test(arguments: StoreEngine.all) func theAuditLogKeepsEveryActionNewestFirst(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = try console(f)
        let first = try await s.recordAudit(actor: "web (loopback)", action: "retry", target: "job 1", detail: "queued again")
        f.clock.advance(5)
        let second = try await s.recordAudit(actor: "cli:root", action: "cancel", target: "job 2", detail: nil)
        #expect(first.at == Timestamp.canonical(f.clock.now.addingTimeInterval(-5)))
        let log = try await s.auditLog(limit: 10)
        #expect(log == [second, first])
        #expect(log.map(\.detail) == [nil, "queued again"])
        #expect(try await s.auditLog(limit: 1) == [second])
    }
}
