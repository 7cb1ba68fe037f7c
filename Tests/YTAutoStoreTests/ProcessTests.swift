import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// Real worker processes on one file: `ytauto-testworker` leases, checkpoints and completes.
@Suite struct ProcessTests {
    /// Every attempt of every job, by job.
    func attemptsByJob(_ path: String) throws -> [Int64: [AttemptRecord]] {
        let db = try Connection(path: path)
        return Dictionary(grouping: try db.query("SELECT * FROM job_attempts ORDER BY started_at, id").map(SQLiteJobStore.attempt), by: \.jobID)
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

    @Test func fourProcessesRunTwoThousandJobsExactlyOnce() async throws {
        let dir = TempDir()
        let path = dir.path("jobs.db")
        let store = try SQLiteJobStore(path: path)
        try await store.database.write { db in
            for i in 0..<2_000 {
                try db.run("""
                    INSERT INTO jobs (channel, topic, state, run_at, created_at, updated_at)
                    VALUES (?, ?, 'queued', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z')
                    """, [["horror", "facts", "finance"][i % 3], "topic \(i)"])
            }
        }
        let workers = try (0..<4).map { _ in
            try Child(binary("ytauto-testworker"), ["--db", path, "--stages", "3", "--concurrency", "2", "--exit-when-idle"])
        }
        var completed: [Int] = []
        for w in workers {
            let r = await w.wait()
            #expect(r.status == 0, "worker failed: \(r.stderr)")
            #expect(!r.stderr.contains("locked"), "\(r.stderr)")
            #expect(!r.stderr.contains("busy"), "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            completed.append(json["completed"] as? Int ?? -1)
        }
        print("jobs completed per process: \(completed)")
        #expect(completed.reduce(0, +) == 2_000)
        let stats = try await store.stats()
        #expect(stats.byState[.succeeded] == 2_000)
        let byJob = try attemptsByJob(path)
        #expect(byJob.count == 2_000)
        for (job, attempts) in byJob {
            #expect(attempts.filter { $0.outcome == .succeeded }.count == 1, "job \(job): \(attempts.map(\.outcome))")
        }
        expectNoOverlap(byJob)
        let stageRows = try await store.database.read { db in try db.queryOne("SELECT count(*) AS n FROM job_stages WHERE state = 'succeeded'")?.int("n") }
        #expect(stageRows == 6_000)
    }

    /// SIGKILL a worker that holds leases: another process reclaims its jobs through the lock
    /// file in well under the lease time, and every job still succeeds exactly once.
    @Test func sigkilledWorkersJobsAreReleasedAndFinishedOnce() async throws {
        let dir = TempDir()
        let path = dir.path("jobs.db")
        let store = try SQLiteJobStore(path: path)
        for i in 0..<4 { _ = try await store.enqueue(NewJob(channel: "horror", topic: "t\(i)", maxAttempts: 3)) }
        // Leases of 60 s: recovery must come from the dead-worker check, not from expiry.
        let victim = try Child(binary("ytauto-testworker"),
                               ["--db", path, "--stages", "5", "--stage-ms", "4000", "--concurrency", "2", "--lease-ms", "60000", "--exit-when-idle"])
        // (Stages of 4 s: the victim cannot finish its jobs before the kill, however loaded the machine.)
        let held = try await eventually(timeout: .seconds(30)) {
            try await store.runningJobs().filter { $0.leaseOwner?.hasPrefix("w-\(victim.pid)-") == true }.count == 2
        }
        #expect(held)
        let victimJobs = Set(try await store.runningJobs().map(\.id))
        let survivor = try Child(binary("ytauto-testworker"),
                                 ["--db", path, "--stages", "5", "--stage-ms", "50", "--concurrency", "4", "--lease-ms", "60000", "--exit-when-idle"])
        // Let the survivor register and take the two free jobs, then kill the victim mid-stage.
        _ = try await eventually(timeout: .seconds(30)) { try await store.stats().byState[.queued, default: 0] == 0 }
        victim.kill(SIGKILL)
        let killedAt = Date()
        _ = await victim.wait()
        let releasedAll = try await eventually(timeout: .seconds(30)) {
            let attempts = try await store.history(channel: nil, limit: 100)
            return victimJobs.allSatisfy { id in attempts.contains { $0.jobID == id && $0.workerID.hasPrefix("w-\(survivor.pid)-") } }
        }
        #expect(releasedAll)
        let reLeases = try await store.history(channel: nil, limit: 100)
            .filter { victimJobs.contains($0.jobID) && $0.workerID.hasPrefix("w-\(survivor.pid)-") }
            .map { $0.startedAt.timeIntervalSince(killedAt) }
        let recovery = reLeases.max() ?? .infinity
        print("SIGKILL to re-lease of all \(victimJobs.count) jobs: \(String(format: "%.0f", recovery * 1000)) ms")
        #expect(recovery < 10, "recovery took \(recovery) s")

        let r = await survivor.wait()
        #expect(r.status == 0, "\(r.stderr)")

        #expect(try await store.stats().byState[.succeeded] == 4)
        let byJob = try attemptsByJob(path)
        for id in victimJobs {
            let attempts = try #require(byJob[id])
            #expect(attempts.map(\.outcome) == [.lost, .succeeded])
            #expect(attempts[0].errorCode == "worker.lost")
        }
        for (_, attempts) in byJob { #expect(attempts.filter { $0.outcome == .succeeded }.count == 1) }
        expectNoOverlap(byJob)
        let dead = try await store.workers().filter { $0.state == .dead }.map(\.pid)
        #expect(dead == [victim.pid])
    }
}
