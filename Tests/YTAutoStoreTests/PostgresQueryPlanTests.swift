import Foundation
import PostgresNIO
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoPostgres

/// The PostgreSQL lease and its next-due query stay logarithmic in the backlog on a database as an
/// operator's would be: 100,000 queued jobs (one channel with only ten; 150,000 more not due yet at a
/// better priority than the rest; 20,000 more the oldest due, of a channel the tests pause), 200,000 finished jobs and
/// their attempts, `jobs` and `job_attempts` analyzed (as autovacuum does after such inserts), and
/// `channel_pauses` never analyzed (autovacuum leaves a small, rarely changed table alone), with no
/// pause and with one. Two checks per statement, run with `EXPLAIN (ANALYZE, BUFFERS)`: no
/// sequential scan of `jobs` and no sort spilled to disk, and few buffers touched (a scan of the
/// queue touches thousands).
@Suite(.serialized, .enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
struct PostgresQueryPlanTests {
    static let queued = 100_000
    static let finished = 200_000
    /// Queued jobs of the channel "later", at a better priority than the rest and not due yet: the
    /// lease this replaced stepped over their index entries without reading a row, so it takes this
    /// many for its steps to show as buffers (about 1,300 for 100,000).
    static let notDueYet = 150_000
    /// Queued jobs of the channel "held", the oldest due, which the tests pause.
    static let held = 20_000
    /// Far below a scan of the queue (about 2,000 pages of queued rows alone), far above an index probe.
    static let bufferBound = 1_000

    /// One filled database for the suite's tests.
    static let fixture = Task<Result<PostgresURL, any Error>, Never> {
        do {
            let server = try await PostgresServer.server()
            let url = try PostgresURL(try await server.createDatabase(prefix: "plans"))
            try await PostgresJobStore(url: url).close()
            _ = try await server.psql("""
                INSERT INTO jobs (channel, topic, payload, state, priority, run_at, attempt, max_attempts, created_at, updated_at,
                                  finished_at, last_error_code, kind, scheduled_at)
                SELECT 'c' || (i % 4), 'topic ' || (i % 50), '{}', CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END, 0,
                       t, 1, 3, t, t + interval '9 seconds', t + interval '9 seconds', CASE WHEN i % 1000 = 0 THEN 'work.stuck' WHEN i % 10 = 0 THEN 'media.ffmpeg' END, 'video', t
                  FROM generate_series(1, \(finished)) AS i, LATERAL (SELECT timestamptz '2026-01-01' + i * interval '20 seconds' AS t) AS x;
                INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, finished_at, outcome,
                                          pipeline, lease_seconds, heartbeat_at)
                SELECT id, 1, 1, channel, 'w-' || (id % 7), created_at, finished_at, state, 'media', 30, finished_at FROM jobs;
                INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
                SELECT CASE WHEN i <= 10 THEN 'rare' ELSE 'c' || (i % 3) END, 'queued ' || i, '{}', 'queued', i % 2,
                       now() - interval '1 day' + (i * 7919 % 100000) * interval '1 second', 3, now(), now(), 'video',
                       now() - interval '1 day' + (i * 7919 % 100000) * interval '1 second'
                  FROM generate_series(1, \(queued)) AS i;
                -- A channel of a better priority than the rest whose jobs are not due yet (retries
                -- backed off, jobs enqueued for later), with three due jobs of its own at a worse one.
                INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
                SELECT 'later', 'later ' || i, '{}', 'queued', CASE WHEN i <= 3 THEN 5 ELSE -1 END,
                       CASE WHEN i <= 3 THEN now() - interval '1 hour' ELSE now() + interval '1 day' + i * interval '1 second' END,
                       3, now(), now(), 'video', now()
                  FROM generate_series(1, \(notDueYet + 3)) AS i;
                -- A channel whose jobs are the oldest due (the tests pause it: a channel held for a week).
                INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
                SELECT 'held', 'held ' || i, '{}', 'queued', 0, now() - interval '7 days' + i * interval '1 second', 3, now(), now(), 'video',
                       now() - interval '7 days' + i * interval '1 second'
                  FROM generate_series(1, \(held)) AS i;
                ANALYZE jobs;
                ANALYZE job_attempts;
                """, database: url.database)
            // Every statement of a new session on this database is logged with its plan and buffers
            // (auto_explain, PostgreSQL's own module): the store's operations are checked as they run.
            for setting in ["session_preload_libraries = 'auto_explain'", "auto_explain.log_min_duration = 0",
                            "auto_explain.log_analyze = on", "auto_explain.log_buffers = on", "auto_explain.log_timing = off"] {
                _ = try await server.psql("ALTER DATABASE \(url.database) SET \(setting)", database: url.database)
            }
            return .success(url)
        } catch {
            return .failure(error)
        }
    }

    /// Runs `query` under `EXPLAIN (ANALYZE, BUFFERS)` on a store of the fixture: its plan's lines.
    static func explain(_ query: PostgresQuery) async throws -> [String] {
        // A call may wait long for the server under the whole suite's load (plans are logged): not 15 s.
        let store = try await PostgresJobStore(url: try await fixture.value.get(), migrate: false, deadline: .seconds(120))
        defer { store.close() }  // synchronous: closed before the plan is returned
        let rows = try await store.pool.query(PostgresQuery(unsafeSQL: "EXPLAIN (ANALYZE, BUFFERS) " + query.sql, binds: query.binds))
        return try rows.map { try $0.required("QUERY PLAN", $0.string) }
    }

    /// The shared buffers the statement touched: its top node's, which include every node under it
    /// (the largest count of any node's line), leaving out planning's.
    static func buffers(_ plan: [String]) -> Int {
        var most = 0, planning = false
        for line in plan.map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line == "Planning:" { planning = true; continue }
            guard line.hasPrefix("Buffers: shared") else { planning = false; continue }
            if planning { planning = false; continue }
            var total = 0
            for part in line.dropFirst("Buffers: shared".count).split(separator: " ") {
                let kv = part.split(separator: "=")
                if kv.count == 2, ["hit", "read"].contains(kv[0]), let n = Int(kv[1]) { total += n }
            }
            most = max(most, total)
        }
        return most
    }

    static func check(_ name: String, _ query: PostgresQuery) async throws {
        let plan = try await explain(query)
        let text = plan.joined(separator: "\n")
        #expect(!text.contains("Seq Scan on jobs"), "\(name) scans every job:\n\(text)")
        #expect(!text.contains("external merge"), "\(name) sorts the queue on disk:\n\(text)")
        #expect(buffers(plan) < bufferBound, "\(name) touched \(buffers(plan)) buffers:\n\(text)")
    }

    static func leases() -> [(String, PostgresQuery)] {
        [("lease", PostgresJobStore.leaseQuery(worker: "w", channels: nil, kind: .video, pipeline: "media", seconds: 30, only: nil, now: nil)),
         ("lease from the lanes", PostgresJobStore.leaseQuery(worker: "w", channels: nil, kind: .video, pipeline: "media", seconds: 30,
                                                              only: nil, now: nil, pick: .lanes)),
         ("lease of the rare channel", PostgresJobStore.leaseQuery(worker: "w", channels: ["rare"], kind: .video, pipeline: "media",
                                                                    seconds: 30, only: nil, now: nil)),
         ("lease of a busy channel", PostgresJobStore.leaseQuery(worker: "w", channels: ["c1"], kind: .video, pipeline: "media",
                                                                  seconds: 30, only: nil, now: nil)),
         ("next due", PostgresJobStore.nextRunAtQuery(channels: nil, kind: .video)),
         ("next due of two channels", PostgresJobStore.nextRunAtQuery(channels: ["rare", "c2"], kind: .video))]
    }

    @Test func theLeaseReadsItsIndexInOrderWhileChannelPausesWasNeverAnalyzed() async throws {
        let url = try await Self.fixture.value.get()
        let server = try await PostgresServer.server()
        // The condition of a fresh installation: never analyzed, so the planner guesses its size.
        let stats = try await server.psql("SELECT reltuples FROM pg_class WHERE relname = 'channel_pauses'", database: url.database)
        #expect(stats.trimmingCharacters(in: .whitespacesAndNewlines) == "-1", "channel_pauses has statistics: \(stats)")
        for (name, query) in Self.leases() { try await Self.check(name, query) }
        // With channels paused, still unanalyzed: "held", whose jobs are the oldest due, and "c2".
        _ = try await server.psql("INSERT INTO channel_pauses VALUES ('c2', now(), 'test'), ('held', now(), 'test')", database: url.database)
        for (name, query) in Self.leases() { try await Self.check("\(name), c2 and held paused", query) }
        _ = try await server.psql("DELETE FROM channel_pauses", database: url.database)
    }

    /// The check itself: the lease's pick as it was before its scan over lanes (an ordered scan of
    /// every queued job with the due time and the pause as filters) steps over the "later"
    /// channel's jobs, not due yet, and, with "held" paused, over every job of "held".
    @Test func theLeaseThatFiltersQueuedJobsFailsTheCheck() async throws {
        let url = try await Self.fixture.value.get()
        let server = try await PostgresServer.server()
        let old: PostgresQuery = """
            SELECT jobs.id FROM jobs WHERE jobs.state = 'queued' AND jobs.run_at <= now() AND NOT ytauto_channel_paused(jobs.channel)
               AND jobs.kind = 'video' ORDER BY jobs.priority, jobs.run_at, jobs.id LIMIT 1 FOR UPDATE OF jobs SKIP LOCKED
            """
        let notDue = try await Self.explain(old)
        #expect(Self.buffers(notDue) >= Self.bufferBound, "\(notDue.joined(separator: "\n"))")
        // From priority 0 on ("later"'s level -1 left out of the index's range), "held" paused.
        var ofChannel = old
        ofChannel.sql = old.sql.replacingOccurrences(of: "AND jobs.kind = 'video'", with: "AND jobs.kind = 'video' AND jobs.priority >= 0")
        _ = try await server.psql("INSERT INTO channel_pauses VALUES ('held', now(), 'test')", database: url.database)
        let paused = try await Self.explain(ofChannel)
        _ = try await server.psql("DELETE FROM channel_pauses", database: url.database)
        #expect(Self.buffers(paused) >= Self.bufferBound, "\(paused.joined(separator: "\n"))")
    }

    /// The plans the server logged (auto_explain) while `body` ran: each statement's text and plan.
    static func loggedPlans(_ body: () async throws -> Void) async throws -> [(statement: String, plan: [String])] {
        let server = try await PostgresServer.server()
        let log = URL(fileURLWithPath: server.dataDirectory).deletingLastPathComponent().appending(path: "server.log")
        let start = (try FileManager.default.attributesOfItem(atPath: log.path)[.size] as? NSNumber)?.intValue ?? 0
        try await body()
        let handle = try FileHandle(forReadingFrom: log)
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(start))
        let text = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var entries: [(statement: String, plan: [String])] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.contains("LOG:  duration:") && line.contains("plan:") {
                entries.append(("", []))
            } else if line.hasPrefix("\t"), !entries.isEmpty {
                let content = line.dropFirst()
                if content.hasPrefix("Query Text:") { entries[entries.count - 1].statement = String(content) }
                entries[entries.count - 1].plan.append(String(content))
            }
        }
        return entries
    }

    /// The operator's reads and the job life cycle, through the store as the CLIs and workers call
    /// it: no statement scans `jobs`, `job_attempts` or `job_stage_runs`, or touches many buffers.
    @Test func theOperatorsReadsAndTheLifeCycleStayOnIndexes() async throws {
        let url = try await Self.fixture.value.get()
        let store = try await PostgresJobStore(url: url, migrate: false, deadline: .seconds(120))
        let plans = try await Self.loggedPlans {
            _ = try await store.stats()
            _ = try await store.listFailed(channel: nil, since: nil, limit: 50)
            _ = try await store.listFailed(channel: "c1", since: Date(timeIntervalSince1970: 1_767_225_600), limit: 50)
            _ = try await store.history(channel: nil, limit: 50)
            _ = try await store.history(channel: "c2", limit: 50)
            // Channels with none: no failed job of c1, no attempt of "rare" (ten queued jobs).
            _ = try await store.listFailed(channel: "c1", since: nil, limit: 50)
            // By code: a rare one, the common one, one none has; with a channel too.
            _ = try await store.listFailed(channel: nil, code: "work.stuck", since: nil, limit: 50)
            _ = try await store.listFailed(channel: nil, code: "media.ffmpeg", since: Date(timeIntervalSince1970: 1_767_225_600), limit: 50)
            _ = try await store.listFailed(channel: nil, code: "no.such_code", since: nil, limit: 50)
            _ = try await store.listFailed(channel: "c0", code: "work.stuck", since: nil, limit: 50)
            _ = try await store.listFailed(channel: "c1", code: "work.stuck", since: nil, limit: 50)
            _ = try await store.history(channel: "rare", limit: 50)
            _ = try await store.runningJobs()
            _ = try await store.runningAttemptStarts()
            _ = try await store.waitingForReview(limit: 50)
            _ = try await store.needsReclaim()
            _ = try await store.reclaimIfNeeded()
            _ = try await store.retryAllFailed(channel: "rare")
            // Jobs finished in the first hour of 2026 (180 of them), ten a batch.
            _ = try await store.prune(finishedBefore: Date(timeIntervalSince1970: 1_767_229_200), batchSize: 10)
            let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: "media", duration: .seconds(30)))
            _ = try await store.heartbeat(lease, duration: .seconds(30))
            try await store.checkpoint(lease, stage: "script", state: .running, artifacts: [], startedAt: Date(), error: nil)
            try await store.checkpoint(lease, stage: "script", state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
            _ = try await store.complete(lease)
            // Two slots completing together (one statement: CompletionGroups), then one alone, each
            // leasing the next job.
            let request = LeaseRequest(worker: "w", channels: nil, kind: .video, pipeline: "media", duration: .seconds(30))
            let a = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: "media", duration: .seconds(30)))
            let b = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: "media", duration: .seconds(30)))
            let next = try await withTaskExecutorPreference(store.bookkeepingExecutor) {
                async let x = store.complete(a, thenLease: request)
                async let y = store.complete(b, thenLease: request)
                return try await [x, y].compactMap(\.next)
            }
            #expect(next.count == 2)
            _ = try await store.complete(try #require(next.first), thenLease: request)
            _ = try await store.attempts(jobID: lease.jobID)
            _ = try await store.stageRuns(jobID: lease.jobID)
            // The scheduler: a topic not used lately among 50 the channel used, a slot decided.
            let channel = ChannelConfig(name: "c1", type: .facts, schedule: ["0 * * * *"], timeZone: "UTC",
                                        durationRange: .init(min: 30, max: 58), voiceID: "en-us", style: "plain",
                                        topics: (0..<50).map { "topic \($0)" } + ["a fresh topic"], format: .short)
            _ = try await store.suggestTopic(for: channel)
            _ = try await store.schedule(channel, now: nil)
            // The console's lists and charts (windows of the last day: the fixture's jobs are older).
            let day = Date().addingTimeInterval(-86_400)
            // Not the console's filtered job list: it reads jobs newest first until enough match
            // (`ORDER BY id DESC`), so a rare filter reads far back (docs/console.md says so).
            _ = try await store.jobs(matching: JobQuery(), limit: 50)
            _ = try await store.finishedByHour(since: day)
            _ = try await store.failuresByCode(since: day)
            _ = try await store.stageDurations(since: day, limit: 50)
            _ = try await store.leaseWaits(since: day, limit: 50)
        }
        store.close()
        #expect(plans.count > 20, "auto_explain logged \(plans.count) statements")
        #expect(plans.contains { $0.plan.joined(separator: "\n").contains("LIMIT (SELECT count(*) FROM done)") }, "no group's statement was logged")
        for (statement, plan) in plans {
            let text = plan.joined(separator: "\n")
            for table in ["jobs", "job_attempts", "job_stage_runs"] {
                #expect(!text.contains("Seq Scan on \(table) "), "\(statement) scans \(table):\n\(text)")
            }
            #expect(Self.buffers(plan) < Self.bufferBound, "\(statement) touched \(Self.buffers(plan)) buffers:\n\(text)")
        }
    }
}
