import Foundation
import Testing
import YTAutoCore
import YTAutoPostgres
import YTAutoStore
import YTAutoTestSupport

/// The documented "SQL for run history" (docs/run-history.md), for each engine, run by its own shell (`sqlite3`,
/// `psql`) against a database with real history made through the store: every query runs, and each answers what
/// it says it answers.
@Suite struct RunHistorySQLTests {
    /// A clock the test moves, so the history has known durations.
    final class Clock: @unchecked Sendable {
        // `@unchecked` is safe: `now` is only touched under `lock`.
        private let lock = NSLock()
        private var current = Date().addingTimeInterval(-3 * 86_400)
        var now: Date { lock.withLock { current } }
        func advance(_ s: TimeInterval) { lock.withLock { current = current.addingTimeInterval(s) } }
    }

    /// The documented queries of an engine (the first SQL block under its heading), each with its comment, in order.
    static func readmeQueries(_ heading: String = "# SQL for run history", skipping: Int = 0) throws -> [(comment: String, sql: String)] {
        let readme = try String(contentsOf: packageRoot.appending(path: "docs/run-history.md"), encoding: .utf8)
        let section = try #require(readme.range(of: heading))
        let rest = readme[section.upperBound...]
        var open = try #require(rest.range(of: "```sql\n"))
        var close = try #require(rest[open.upperBound...].range(of: "```"))
        for _ in 0..<skipping {
            open = try #require(rest[close.upperBound...].range(of: "```sql\n"))
            close = try #require(rest[open.upperBound...].range(of: "```"))
        }
        let block = rest[open.upperBound..<close.lowerBound]
        return block.components(separatedBy: "\n\n").map { chunk in
            let lines = chunk.split(separator: "\n", omittingEmptySubsequences: false)
            let comment = lines.filter { $0.hasPrefix("--") }.joined(separator: " ")
            let sql = lines.filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            return (comment, sql)
        }.filter { !$0.sql.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }

    static var engines: [String] { PostgresServer.available ? ["sqlite", "postgres"] : ["sqlite"] }

    @Test(arguments: engines) func everyDocumentedQueryAnswersOnRealHistory(engine: String) async throws {
        let dir = TempDir("ytauto-sql")
        let path = dir.path("ytauto.db")
        let clock = Clock()
        let store: any OperatorStore
        let runSQL: @Sendable (String) async throws -> [[String: Any]]
        let insertSlots: @Sendable (_ enqueuedAt: Date, _ job: Int64, _ missedAt: Date) async throws -> Void
        let queries: [(comment: String, sql: String)]
        if engine == "postgres" {
            let server = try await PostgresServer.server()
            let url = try await server.createDatabase(prefix: "history")
            let database = try PostgresURL(url).database
            store = try await PostgresJobStore(url: try PostgresURL(url), clock: { clock.now })
            queries = try Self.readmeQueries("## On PostgreSQL")
            runSQL = { sql in
                let text = sql.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: ";"))
                let json = try await server.psql("SELECT coalesce(json_agg(q), '[]') FROM (\(text)) AS q", database: database)
                return try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] ?? []
            }
            insertSlots = { enqueuedAt, job, missedAt in
                try await server.psql("""
                    INSERT INTO schedule_slots (channel, slot_at, expression, decision, topic, job_id, decided_at, detail)
                    VALUES ('facts', '\(Timestamp.string(enqueuedAt))', '0 18 * * *', 'enqueued', 'octopuses', \(job), '\(Timestamp.string(enqueuedAt))', NULL),
                           ('facts', '\(Timestamp.string(missedAt))', '0 18 * * *', 'missed', NULL, NULL, '\(Timestamp.string(missedAt))', 'the scheduler was down'),
                           ('facts', '\(Timestamp.string(missedAt.addingTimeInterval(-86_400)))', '0 18 * * *', 'enqueued', 'whales', 999999,
                            '\(Timestamp.string(missedAt.addingTimeInterval(-86_400)))', NULL)
                    """, database: database)
            }
        } else {
            let sqlite = try SQLiteJobStore(path: path, clock: { clock.now })
            store = sqlite
            queries = try Self.readmeQueries()
            runSQL = { sql in
                let r = await (try Child(URL(fileURLWithPath: "/usr/bin/sqlite3"), ["-bail", "-json", path, sql])).wait()
                guard r.status == 0 && r.stderr.isEmpty else { throw SQLShellFailed(message: "sqlite3 exited \(r.status): \(r.stderr)") }
                return r.stdout.isEmpty ? [] : (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? [])
            }
            insertSlots = { enqueuedAt, job, missedAt in
                try await sqlite.database.write { db in
                    _ = try db.run("""
                        INSERT INTO schedule_slots (channel, slot_at, expression, decision, topic, job_id, decided_at, detail)
                        VALUES ('facts', ?1, '0 18 * * *', 'enqueued', 'octopuses', ?2, ?1, NULL),
                               ('facts', ?3, '0 18 * * *', 'missed', NULL, NULL, ?3, 'the scheduler was down'),
                               ('facts', ?4, '0 18 * * *', 'enqueued', 'whales', 999999, ?4, NULL)
                        """, [enqueuedAt, job, missedAt, missedAt.addingTimeInterval(-86_400)])
                }
            }
        }
        let worker = try await store.registerWorker()
        // A video `ytauto enqueue` made, pruned: no slot names it, and its topic still counts.
        let pruned = try await store.enqueue(NewJob(channel: "facts", topic: "kelp")).job.id
        _ = try await store.cancel(jobID: pruned)
        clock.advance(1)
        #expect(try await store.prune(finishedBefore: clock.now, batchSize: 500) == 1)

        func runStages(_ lease: Lease, _ stages: [String], seconds: TimeInterval) async throws {
            for stage in stages {
                let started = clock.now
                try await store.checkpoint(lease, stage: stage, state: .running, artifacts: [], startedAt: started, error: nil)
                clock.advance(seconds)
                try await store.checkpoint(lease, stage: stage, state: .succeeded, artifacts: [], startedAt: started, error: nil)
            }
        }
        // A video that took two attempts: narration failed once, then it was published.
        let retried = try await store.enqueue(NewJob(channel: "facts", topic: "octopuses", maxAttempts: 3)).job.id
        var lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(30)))
        try await runStages(lease, ["script"], seconds: 2)
        let failure = JobFailure(code: "tts.failed", message: "espeak-ng exited 1", isRetryable: true)
        try await store.checkpoint(lease, stage: "narration", state: .running, artifacts: [], startedAt: clock.now, error: nil)
        _ = try await store.fail(lease, error: failure)
        clock.advance(3600)
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(30)))
        try await runStages(lease, ["narration", "images", "clips", "compose", "thumbnail", "publish"], seconds: 3)
        _ = try await store.complete(lease)
        // Published again by a redo from publish (the local publisher writes the video again): still one video.
        clock.advance(10)
        _ = try await store.redo(jobID: retried, from: "publish")
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(30), only: retried))
        try await runStages(lease, ["publish"], seconds: 3)
        _ = try await store.complete(lease)
        // A video that failed for good.
        let failed = try await store.enqueue(NewJob(channel: "horror", topic: "the lighthouse", maxAttempts: 1)).job.id
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, duration: .seconds(30)))
        _ = try await store.fail(lease, error: JobFailure(code: "video.qa_failed", message: "black keyframe", isRetryable: false))
        // A slot's job made an hour late (its scheduler was down), leased at once: it waited for
        // no worker (its attempt showed the scheduler's hour as lease wait).
        let late = try await store.enqueue(NewJob(channel: "horror", topic: "the lighthouse", runAt: clock.now.addingTimeInterval(-3600))).job.id
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(30), only: late))
        _ = try await store.complete(lease)
        // A diagnostic job on a real channel's name, due two hours before a worker took it, with a
        // 100 s narration, failed for good: in no failure list or statistic.
        let diagnostic = try await store.enqueue(NewJob(channel: "facts", topic: "synthetic", maxAttempts: 1, kind: .synthetic)).job.id
        clock.advance(7200)
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .synthetic, pipeline: "synthetic 1 ms", duration: .seconds(30), only: diagnostic))
        try await runStages(lease, ["narration"], seconds: 100)
        _ = try await store.fail(lease, error: JobFailure(code: "synthetic.failed", message: "asked to fail", isRetryable: false))
        // One lost to a dead worker (its lease expired), freed a minute later, run again another
        // minute later and left running: its second attempt waited that minute, not two.
        // Its worker renewed the lease once, 30 s in; a second job of that worker had a cancel
        // pending, so it ends cancelled, its time lost all the same.
        let lost = try await store.enqueue(NewJob(channel: "finance", topic: "honey", maxAttempts: 3)).job.id
        lease = try #require(try await store.lease(worker: "w-gone", channels: nil, duration: .seconds(40)))
        try await store.checkpoint(lease, stage: "script", state: .running, artifacts: [], startedAt: clock.now, error: nil)
        let cancelling = try await store.enqueue(NewJob(channel: "finance", topic: "tides", maxAttempts: 3)).job.id
        let cancellingLease = try #require(try await store.lease(worker: "w-gone", channels: nil, kind: .video, pipeline: "media", duration: .seconds(40), only: cancelling))
        _ = try await store.cancel(jobID: cancelling)
        clock.advance(30)
        _ = try await store.heartbeat(lease, duration: .seconds(10))
        _ = try await store.heartbeat(cancellingLease, duration: .seconds(10))
        clock.advance(30)
        _ = try await store.reclaim()
        clock.advance(60)
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, duration: .seconds(30)))
        clock.advance(5)
        _ = try await store.heartbeat(lease, duration: .seconds(30))
        // One handed back by a worker that stopped, then run again by another and published.
        let handed = try await store.enqueue(NewJob(channel: "finance", topic: "tides", maxAttempts: 3)).job.id
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(30), only: handed))
        _ = try await store.handBack(lease)
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(30), only: handed))
        _ = try await store.complete(lease)
        // Two videos of a reviewed channel: one waiting for review, one rejected in review.
        var reviewed: [Int64] = []
        for _ in 0..<2 {
            let id = try await store.enqueue(NewJob(channel: "facts", topic: "octopuses", maxAttempts: 3)).job.id
            lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(30), only: id))
            guard case .held = try await store.holdForReview(lease, stage: "publish") else { Issue.record("not held"); return }
            reviewed.append(id)
        }
        clock.advance(7200)
        // The second is rejected, retried, held again and approved; an approval of the first is
        // refused. Each is audited as ytauto-admin audits it.
        let audit = try #require(store as? any ConsoleStore)
        _ = try await store.reject(jobID: reviewed[1], reason: "off topic", by: "cli:ana")
        _ = try await audit.recordAudit(actor: "cli:ana", action: "reject", target: "job \(reviewed[1])", detail: "off topic")
        _ = try await store.retry(jobID: reviewed[1])
        lease = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(30), only: reviewed[1]))
        guard case .held = try await store.holdForReview(lease, stage: "publish") else { Issue.record("not held again"); return }
        _ = try await store.approve(jobID: reviewed[1], by: "cli:ana")
        _ = try await audit.recordAudit(actor: "cli:ana", action: "approve", target: "job \(reviewed[1])", detail: "queued to publish")
        _ = try await audit.recordAudit(actor: "cli:bob", action: "approve", target: "job \(reviewed[0])",
                                        detail: "refused: job \(reviewed[0]) is not waiting for review")
        // The scheduler's memory: a slot that made the first job, one missed, and one whose job was pruned since.
        try await insertSlots(clock.now.addingTimeInterval(-86_400), retried, clock.now.addingTimeInterval(-2 * 86_400))

        try await store.recordChannelHistory(channel: "facts", job: retried, topic: "why honey", script: #"{"title":"Why Honey"}"#, keep: 50)
        try await store.recordChannelHistoryThumbnail("0f0f0f0f0f0f0f0f", channel: "facts", job: retried)
        // A script of the job that failed: not checked against, so not listed.
        try await store.recordChannelHistory(channel: "horror", job: failed, topic: "the lighthouse", script: #"{"title":"Lighthouse"}"#, keep: 50)

        #expect(queries.count >= 13)
        var rowsByComment: [String: [[String: Any]]] = [:]
        for q in queries {
            do {
                rowsByComment[q.comment] = try await runSQL(q.sql)
            } catch {
                Issue.record("\(q.comment): \(error)")
            }
        }
        func rows(_ start: String) throws -> [[String: Any]] {
            try #require(rowsByComment.first { $0.key.hasPrefix("-- " + start) }?.value, "no query '\(start)'")
        }
        #expect(try rows("Failures of the last 7 days").map { $0["id"] as? Int } == [Int(failed)])
        let p95 = try rows("Average and p95")
        #expect(p95.contains { $0["stage"] as? String == "narration" && $0["p95_s"] as? Double == 3.0 }, "\(p95)")
        let retryRate = try rows("Retry rate per error code")
        #expect(!retryRate.contains { $0["error_code"] as? String == "synthetic.failed" }, "\(retryRate)")
        #expect(retryRate.contains { $0["error_code"] as? String == "tts.failed" && $0["retry_pct"] as? Double == 100.0 })
        // A lost attempt whose job ran again was retried (it counted as neither); a job that failed for good gave up.
        #expect(retryRate.contains { $0["error_code"] as? String == "lease.expired" && $0["retried"] as? Int == 1 && $0["retry_pct"] as? Double == 100.0 },
                "\(retryRate)")
        #expect(retryRate.contains { $0["error_code"] as? String == "video.qa_failed" && $0["gave_up"] as? Int == 1 && $0["retried"] as? Int == 0 },
                "\(retryRate)")
        // A hand-back whose job ran again was retried (it showed 0 %); a stop for review is no error.
        #expect(retryRate.contains { $0["error_code"] as? String == "worker.shutdown" && $0["retried"] as? Int == 1 && $0["retry_pct"] as? Double == 100.0 },
                "\(retryRate)")
        #expect(!retryRate.contains { ($0["error_code"] as? String)?.hasPrefix("review.") == true }, "\(retryRate)")
        let earlier = try rows("Every earlier attempt")
        #expect(Set(earlier.compactMap { $0["job_id"] as? Int }) == [Int(retried), Int(lost), Int(handed), Int(reviewed[1])])
        #expect(try rows("Videos published per channel and day").map { $0["published"] as? Int } == [1])
        #expect(try rows("Which worker ran each attempt").count == 14)
        let running = try rows("Running jobs and the age")
        #expect(running.count == 1 && running.first?["id"] as? Int == Int(lost))
        // The pruned slot's topic counts (it counted nowhere: not a job, and its slot names a job).
        let topics = try rows("Topics used per channel")
        #expect(Set(topics.compactMap { $0["topic"] as? String }) == ["octopuses", "whales", "the lighthouse", "honey", "tides", "kelp"], "\(topics)")
        #expect(topics.first { $0["topic"] as? String == "octopuses" }?["uses"] as? Int == 3, "\(topics)")
        #expect(topics.first { $0["topic"] as? String == "kelp" }?["uses"] as? Int == 1, "\(topics)")
        #expect(try rows("Scheduled slots that made no job").map { $0["decision"] as? String } == ["missed", "enqueued"])
        #expect(try rows("Slots with several jobs").isEmpty)
        let lostTime = try rows("Time lost to dead workers")
        // The lost and the cancelled attempt of the dead worker: each ran 30 s to its last
        // heartbeat and was freed 30 s later (the failed attempts, which ran 0 s and 100 s, are not lost).
        #expect(lostTime.first?["lost_attempts"] as? Int == 2, "\(lostTime)")
        #expect((lostTime.first?["minutes_run"] as? NSNumber)?.doubleValue == 1.0, "\(lostTime)")
        #expect((lostTime.first?["minutes_until_freed"] as? NSNumber)?.doubleValue == 1.0, "\(lostTime)")
        // The retried job's second attempt waited the hour the test let pass after its backoff ended.
        let leaseWait = try rows("Lease wait")
        let factsWait = leaseWait.first { $0["channel"] as? String == "facts" }
        // (Not the diagnostic job's two hours.)
        #expect(((factsWait?["max_wait_s"] as? NSNumber)?.doubleValue ?? 0) > 3000, "\(leaseWait)")
        #expect(((factsWait?["max_wait_s"] as? NSNumber)?.doubleValue ?? 0) < 7000, "\(leaseWait)")
        #expect((leaseWait.first { $0["channel"] as? String == "horror" }?["max_wait_s"] as? NSNumber)?.doubleValue == 0, "\(leaseWait)")
        // The lost job waited a minute from when it was freed (it showed two: its lost attempt's minute too).
        #expect((leaseWait.first { $0["channel"] as? String == "finance" }?["max_wait_s"] as? NSNumber)?.doubleValue == 60, "\(leaseWait)")
        let waiting = try rows("Jobs waiting for review")
        #expect(waiting.map { $0["id"] as? Int } == [Int(reviewed[0])], "\(waiting)")
        #expect(((waiting.first?["hours_waiting"] as? NSNumber)?.doubleValue ?? 0) >= 2, "\(waiting)")
        let recent = try rows("Each channel's recent videos")
        #expect(recent.count == 1 && recent.first?["title"] as? String == "Why Honey" && recent.first?["thumbnail_hash"] as? String == "0f0f0f0f0f0f0f0f",
                "\(recent)")
        let decisions = try rows("Review decisions per channel")
        // The rejection before the approval counts (the job's review row keeps only its last decision).
        #expect(decisions.count == 1 && (decisions.first?["rejected"] as? NSNumber)?.intValue == 1
                && (decisions.first?["approved"] as? NSNumber)?.intValue == 1, "\(decisions)")
        if engine == "postgres" {
            // The server's own view of who is alive: the registered worker, its session and lock.
            let live = try #require(try Self.readmeQueries("## On PostgreSQL", skipping: 1).first)
            #expect(live.comment.hasPrefix("-- Live workers"))
            let rows = try await runSQL(live.sql)
            #expect(rows.map { $0["id"] as? String } == [worker.id], "\(rows)")
        }
    }
}

struct SQLShellFailed: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
