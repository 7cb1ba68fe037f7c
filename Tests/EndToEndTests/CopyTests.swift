import Foundation
import Testing
import YTAutoCore
import YTAutoPostgres
import YTAutoStore
import YTAutoTestSupport

/// `ytauto-admin copy`, the real binary: a SQLite installation with a history of every kind goes to
/// PostgreSQL and back to a new SQLite file, and each side reads exactly what the first held.
@Suite(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
struct CopyTests {
    let dir = TempDir("ytauto-copy")

    func admin(_ args: String...) async throws -> ProcessResult {
        try await run("ytauto-admin", args, cwd: dir.url, environment: [:])
    }

    /// A history of every kind: jobs queued, succeeded (with stages, artifacts and notes), retried,
    /// failed, cancelled, lost to a dead worker; slots and cursors; workers; ledger rows.
    func makeHistory(_ store: SQLiteJobStore) async throws {
        var channel = ChannelConfig.defaults(for: .facts)
        channel.schedule = ["*/10 * * * *"]
        channel.topics = (0..<20).map { "topic \($0)" }
        let now = Date()
        // Two jobs `ytauto enqueue` made, pruned: their topic stays used (pruned_topic_uses).
        for _ in 0..<2 {
            _ = try await store.cancel(jobID: try await store.enqueue(NewJob(channel: "horror", topic: "the lighthouse")).job.id)
        }
        #expect(try await store.prune(finishedBefore: Date().addingTimeInterval(1), batchSize: 500) == 2)
        _ = try await store.schedule(channel, now: now.addingTimeInterval(-3600))
        _ = try await store.schedule(channel, now: now)
        for i in 0..<12 {
            _ = try await store.enqueue(NewJob(channel: ["horror", "finance"][i % 2], topic: "t\(i)", options: ["n": "\(i)"], maxAttempts: 2))
        }
        let worker = try await store.registerWorker(id: "copy-worker")
        for round in 0..<5 {
            guard let lease = try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(60)) else { break }
            try await store.checkpoint(lease, stage: "script", state: .running, artifacts: [], startedAt: Date(), error: nil)
            try await store.saveStageNotes(lease, stage: "script", notes: ["session": "s\(round)"])
            try await store.checkpoint(lease, stage: "script", state: .succeeded,
                                       artifacts: [Artifact(path: "/w/\(round)/script.json", bytes: 10, sha256: "ab")], startedAt: Date(), error: nil)
            switch round {
            case 0, 1: _ = try await store.complete(lease)
            case 2: _ = try await store.fail(lease, error: JobFailure(code: "tts.server_error", message: "503", isRetryable: true))
            case 3: _ = try await store.fail(lease, error: JobFailure(code: "llm.auth", message: "bad key", isRetryable: false))
            default: _ = try await store.handBack(lease)
            }
        }
        // Two jobs run at once: their stage runs interleave, and a run's id says when it began,
        // across jobs (a copy that numbered them job by job reordered them).
        let a = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(60)))
        let b = try #require(try await store.lease(worker: worker.id, channels: nil, kind: .video, pipeline: "media", duration: .seconds(60)))
        for stage in ["script", "narration"] {
            for lease in [a, b] {
                try await store.checkpoint(lease, stage: stage, state: .running, artifacts: [], startedAt: Date(), error: nil)
                try await store.checkpoint(lease, stage: stage, state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
            }
        }
        _ = try await store.complete(a)
        _ = try await store.handBack(b)
        let doomed = try await store.enqueue(NewJob(channel: "facts", topic: "never")).job.id
        #expect(try await store.cancel(jobID: doomed) == .cancelled)
        try await store.deregisterWorker(worker)
        try await store.record(provider: "youtube", channel: "facts", unit: "units", amount: 1600, day: QuotaDay.youtube(now))
        try await store.record(provider: "openai", channel: "horror", unit: "tokens", amount: 4200, day: QuotaDay.utc(now))
        try await store.recordAudit(actor: "web (loopback)", action: "retry", target: "job 1", detail: "queued again")
        try await store.recordAudit(actor: "cli:root", action: "cancel", target: "job \(doomed)", detail: nil)
        _ = try await store.pause(channel: "finance", by: "cli:root")
        try await store.recordFootage(channel: "horror", job: 1, keys: ["pexels:clip:1448735", "pixabay:image:195893"])
        try await store.recordChannelHistory(channel: "horror", job: 1, topic: "t0", script: #"{"title":"T0"}"#, keep: 50)
        try await store.recordChannelHistory(channel: "horror", job: 3, topic: "t2", script: #"{"title":"T2"}"#, keep: 50)
        try await store.recordChannelHistoryThumbnail("00ff00ff00ff00ff", channel: "horror", job: 1)
    }

    /// Everything a store can tell about its installation, for comparison.
    func snapshot(_ store: any StoreCopying) async throws -> (jobs: [CopiedJob], rest: CopiedInstallation, stats: QueueStats) {
        var jobs: [CopiedJob] = []
        var after: Int64 = 0
        while true {
            let page = try await store.copiedJobs(after: after, limit: 7)
            guard let last = page.last else { break }
            jobs += page
            after = last.job.id
        }
        var rest = try await store.copiedInstallation()
        rest.slots.sort { ($0.channel, $0.slotAt) < ($1.channel, $1.slotAt) }
        rest.workers.sort { $0.id < $1.id }
        return (jobs, rest, try await store.stats())
    }

    @Test func anInstallationGoesToPostgreSQLAndBackUnchanged() async throws {
        let sqlitePath = dir.path("first.db")
        let original = try SQLiteJobStore(path: sqlitePath)
        try await makeHistory(original)
        let before = try await snapshot(original)
        #expect(before.jobs.count > 12 && before.jobs.contains { !$0.stageRuns.isEmpty && !$0.stages.isEmpty })
        let runOrder = before.jobs.flatMap(\.stageRuns).sorted { $0.id < $1.id }.map(\.jobID)
        #expect(runOrder != runOrder.sorted(), "the history has no interleaved stage runs: \(runOrder)")
        #expect(Set(before.jobs.map(\.job.state)).isSuperset(of: [.queued, .succeeded, .failed]))
        #expect(!before.rest.slots.isEmpty && !before.rest.cursors.isEmpty && before.rest.ledger.count == 2 && before.rest.workers.count == 1)
        #expect(!before.rest.expressionCursors.isEmpty)
        #expect(before.rest.audit.map(\.action) == ["retry", "cancel"])
        #expect(before.rest.pauses.map(\.channel) == ["finance"])
        #expect(before.rest.footage.map(\.key) == ["pexels:clip:1448735", "pixabay:image:195893"])
        #expect(before.rest.history.map(\.jobID) == [1, 3] && before.rest.history.first?.thumbnailHash == "00ff00ff00ff00ff")
        #expect(before.rest.prunedTopics.map { "\($0.channel) \($0.topic) \($0.uses)" } == ["horror the lighthouse 2"])

        let postgres = try await PostgresServer.server().createDatabase(prefix: "copy")
        let there = try await admin("copy", "--from", sqlitePath, "--to", postgres)
        #expect(there.status == 0, "\(there.stderr)")
        #expect(there.stdout.contains("copied \(sqlitePath) to postgres://"), "\(there.stdout)")
        // A finished copy leaves no mark: commands use it.
        let used = try await run("ytauto", ["status", "--db", postgres], cwd: dir.url, environment: [:])
        #expect(used.status == 0, "\(used.stderr)")
        let pg = try await PostgresJobStore(url: try PostgresURL(postgres), migrate: false)
        let onPostgres = try await snapshot(pg)
        #expect(onPostgres.jobs == before.jobs)
        #expect(onPostgres.stats == before.stats)
        #expect(onPostgres.rest.slots == before.rest.slots && onPostgres.rest.cursors == before.rest.cursors)
        #expect(onPostgres.rest.expressionCursors == before.rest.expressionCursors)
        #expect(onPostgres.rest.workers == before.rest.workers && onPostgres.rest.ledger == before.rest.ledger)
        #expect(onPostgres.rest.audit == before.rest.audit)
        #expect(onPostgres.rest.pauses == before.rest.pauses && onPostgres.rest.footage == before.rest.footage)
        #expect(onPostgres.rest.history == before.rest.history)
        #expect(onPostgres.rest.prunedTopics == before.rest.prunedTopics)
        // Times arrive to the millisecond as they were, in raw SQL too (postgres-nio's Date
        // encoding truncated .853 to .852999, which ytauto's reads rounded back and SQL did not).
        let server = try await PostgresServer.server()
        let offMillisecond = try await server.psql("""
            SELECT count(*) FROM (SELECT created_at AS t FROM jobs UNION ALL SELECT updated_at FROM jobs UNION ALL SELECT run_at FROM jobs
                                  UNION ALL SELECT started_at FROM job_attempts UNION ALL SELECT started_at FROM job_stage_runs
                                  UNION ALL SELECT at FROM audit_log) AS times
             WHERE extract(microseconds FROM t)::bigint % 1000 <> 0
            """, database: try PostgresURL(postgres).database)
        #expect(offMillisecond.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(offMillisecond)")
        #expect(try await pg.recordAudit(actor: "t", action: "retry", target: "job 2", detail: nil).id > before.rest.audit.map(\.id).max() ?? 0)
        // New rows on the target take new ids, after the copied ones.
        let next = try await pg.enqueue(NewJob(channel: "facts")).job.id
        #expect(next > before.jobs.map(\.job.id).max() ?? 0)

        // A second copy into the same database is refused; so is a source with a running job.
        let again = try await admin("copy", "--from", sqlitePath, "--to", postgres)
        #expect(again.status == 1 && again.stderr.contains("is not empty"), "\(again.stderr)")
        _ = try await original.lease(worker: "someone", channels: nil, duration: .seconds(60))
        let busy = try await admin("copy", "--from", sqlitePath, "--to", dir.path("other.db"))
        #expect(busy.status == 1 && busy.stderr.contains("running job"), "\(busy.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("other.db")), "a refused copy creates no target")
        // A bad location is said with the option it came from (copy has no --db).
        let badURL = try await admin("copy", "--from", sqlitePath, "--to", "postgres://db/ytauto")
        #expect(badURL.status == 2 && badURL.stderr.contains("the database URL (from --to):") && !badURL.stderr.contains("--db"), "\(badURL.stderr)")
        // So is a missing source or a folder for a target (their hints said "--db").
        let missing = try await admin("copy", "--from", dir.path("none.db"), "--to", dir.path("other.db"))
        #expect(missing.status == 1 && missing.stderr.contains("point --from at yours") && !missing.stderr.contains("--db"), "\(missing.stderr)")
        let folder = try await admin("copy", "--from", postgres, "--to", dir.url.path)
        #expect(folder.status == 1 && folder.stderr.contains("e.g. --to ") && !folder.stderr.contains("--db"), "\(folder.stderr)")

        // And back, from PostgreSQL to a new SQLite file.
        let backPath = dir.path("back.db")
        let back = try await admin("copy", "--from", postgres, "--to", backPath)
        #expect(back.status == 0, "\(back.stderr)")
        let returned = try await snapshot(try SQLiteJobStore(path: backPath))
        #expect(returned.jobs.filter { $0.job.id != next } == before.jobs)
        #expect(returned.rest.slots == before.rest.slots && returned.rest.cursors == before.rest.cursors && returned.rest.ledger == before.rest.ledger)
        #expect(returned.rest.expressionCursors == before.rest.expressionCursors)
        #expect(Array(returned.rest.audit.prefix(2)) == before.rest.audit && returned.rest.audit.count == 3)
        #expect(returned.rest.pauses == before.rest.pauses && returned.rest.footage == before.rest.footage)
        #expect(returned.rest.history == before.rest.history)
        #expect(returned.rest.prunedTopics == before.rest.prunedTopics)
        pg.close()
    }

    /// A copy stopped part-way (here: marked begun and one page of jobs written, as a copy killed
    /// after its first transaction leaves it) is refused by every command that opens the target,
    /// on both engines, and a second copy into it says why it is not empty. (The partial target was
    /// used as is: its paused channel not paused, its next job ids ones the source had given.)
    @Test func aCopyStoppedPartWayIsRefusedUntilMadeAnew() async throws {
        let sqlitePath = dir.path("source.db")
        let source = try SQLiteJobStore(path: sqlitePath)
        try await makeHistory(source)
        let page = try await source.copiedJobs(after: 0, limit: 5)
        for location in [dir.path("half.db"), try await PostgresServer.server().createDatabase(prefix: "halfcopy")] {
            let target = try #require(try await ProcessEngine.open(location) as? any StoreCopying)
            try await target.beginCopy(from: sqlitePath)
            try await target.insertCopied(page)
            let name = PostgresURL.isPostgres(location) ? try PostgresURL(location).redacted : location
            for (tool, args) in [("ytauto", ["status"]), ("ytauto-admin", ["history"]), ("ytauto-admin", ["list-failed"])] {
                let r = try await run(tool, args + ["--db", location], cwd: dir.url, environment: [:])
                #expect(r.status == 1 && r.stderr.contains("the database \(name) holds a copy from \(sqlitePath) begun at")
                        && r.stderr.contains("that did not finish: it is incomplete"), "\(args): \(r.stderr)")
            }
            let again = try await admin("copy", "--from", sqlitePath, "--to", location)
            #expect(again.status == 1 && again.stderr.contains("is not empty (it holds a copy from \(sqlitePath)"), "\(again.stderr)")
            target.close()
        }
    }

    /// `ytauto-admin migrate` on a database that does not exist says so, as every other command
    /// does: its pool retried the refused session in silence and ended, after a minute or more,
    /// in "connectionCreationCircuitBreakerTripped".
    @Test func migrateOnADatabaseThatDoesNotExistSaysSo() async throws {
        let server = try await PostgresServer.server()
        let r = try await admin("migrate", "--db", server.url(database: "ytauto_no_such_database"))
        #expect(r.status == 1 && r.stderr.contains("database \"ytauto_no_such_database\" does not exist (SQLSTATE 3D000)"), "\(r.stderr)")
    }

    /// A copy carries the highest job id the source ever gave: ids pruned on the source are not
    /// given again on the target, either way.
    @Test func pruneIdsAreNotGivenAgainAfterACopy() async throws {
        func prunedAll(_ store: some JobStore, jobs: Int) async throws -> Int64 {
            var last: Int64 = 0
            for _ in 0..<jobs {
                last = try await store.enqueue(NewJob(channel: "facts")).job.id
                let lease = try #require(try await store.lease(worker: "w", channels: nil, duration: .seconds(60)))
                _ = try await store.complete(lease)
            }
            // Every finished job goes (on PostgreSQL, the job cancelled before too).
            #expect(try await store.prune(finishedBefore: .distantFuture, batchSize: 100) >= jobs)
            return last
        }
        let sqlitePath = dir.path("pruned.db")
        let first = try SQLiteJobStore(path: sqlitePath)
        let highest = try await prunedAll(first, jobs: 4)
        let postgres = try await PostgresServer.server().createDatabase(prefix: "pruned")
        #expect(try await admin("copy", "--from", sqlitePath, "--to", postgres).status == 0)
        let pg = try await PostgresJobStore(url: try PostgresURL(postgres), migrate: false)
        let onPostgres = try await pg.enqueue(NewJob(channel: "facts")).job.id
        #expect(onPostgres > highest, "job \(onPostgres) on PostgreSQL after jobs up to \(highest) were pruned")
        // Pruned on PostgreSQL too, then back to a new SQLite file.
        _ = try await pg.cancel(jobID: onPostgres)
        let higher = try await prunedAll(pg, jobs: 2)
        let backPath = dir.path("pruned-back.db")
        let back = try await admin("copy", "--from", postgres, "--to", backPath)
        #expect(back.status == 0, "\(back.stderr)")
        let onSQLite = try await SQLiteJobStore(path: backPath).enqueue(NewJob(channel: "facts")).job.id
        #expect(onSQLite > higher, "job \(onSQLite) on SQLite after jobs up to \(higher) were pruned on PostgreSQL")
        pg.close()
    }
}
