import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore
@testable import YTAutoPostgres
import PostgresNIO

/// A clock the test moves by hand, so lease expiry and backoff are exact.
final class ManualClock: @unchecked Sendable {
    // `@unchecked` is safe: `current` is only touched under `lock`.
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

/// A store engine under test: the store behaviour tests (JobStoreTests, FencingTests,
/// ScheduleTests, RunHistoryTests) run against every engine of ``all`` through the store's
/// contract (`OperatorStore`), so one that behaves differently fails them.
struct StoreEngine: Sendable, CustomTestStringConvertible {
    let name: String
    /// A fresh, empty store in `dir`, on `clock` and `policy`.
    let make: @Sendable (_ dir: TempDir, _ clock: @escaping @Sendable () -> Date, _ policy: RetryPolicy) async throws -> any OperatorStore

    var testDescription: String { name }

    static let sqlite = StoreEngine(name: "sqlite") { dir, clock, policy in
        try SQLiteJobStore(path: dir.path("jobs.db"), retryPolicy: policy, clock: clock)
    }

    /// A database of its own on the tests' PostgreSQL cluster (``PostgresServer``), on the test's clock.
    static let postgres = StoreEngine(name: "postgres") { _, clock, policy in
        let url = try await PostgresServer.server().createDatabase()
        return try await PostgresJobStore(url: try PostgresURL(url), retryPolicy: policy, clock: clock)
    }

    /// SQLite always; PostgreSQL where its server is installed (in CI, always: see ``PostgresServer``).
    static let all: [StoreEngine] = PostgresServer.available ? [.sqlite, .postgres] : [.sqlite]
}

struct Fixture {
    let dir = TempDir()
    let clock = ManualClock()
    let store: any OperatorStore

    init(_ engine: StoreEngine = .sqlite, retryPolicy: RetryPolicy = .init()) async throws {
        let clock = self.clock
        store = try await engine.make(dir, { clock.now }, retryPolicy)
    }

    func row(_ id: Int64) async throws -> Job { try #require(try await store.job(id: id)) }

    /// A number from the engine's own tables: `sql` selects one row whose value is named `n`
    /// (`postgres`, where PostgreSQL's dialect needs another text).
    func number(_ sql: String, postgres: String? = nil) async throws -> Double? {
        if let pg = store as? PostgresJobStore {
            let row = try await pg.pool.queryOne(PostgresQuery(unsafeSQL: "SELECT CAST(n AS double precision) AS n FROM (\(postgres ?? sql)) AS q"))
            return try row?.double("n")
        }
        return try await sqlite().database.read { db in
            try db.queryOne("SELECT CAST(n AS REAL) AS n FROM (\(sql))")?.double("n")
        }
    }

    /// Runs a statement on the engine's own tables (a test's tampering), as it is in both dialects.
    func execute(_ sql: String) async throws {
        if let pg = store as? PostgresJobStore {
            _ = try await pg.pool.query(PostgresQuery(unsafeSQL: sql))
            return
        }
        try await sqlite().database.write { db in _ = try db.run(sql) }
    }

    /// The store as SQLite, for a check that reads its tables directly (so it runs on SQLite only).
    func sqlite(sourceLocation: SourceLocation = #_sourceLocation) throws -> SQLiteJobStore {
        try #require(store as? SQLiteJobStore, "this check reads SQLite's tables", sourceLocation: sourceLocation)
    }
}

@Suite struct JobStoreTests {
    @Test(arguments: StoreEngine.all) func enqueueWithAUniqueKeyNeverMakesASecondJob(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let a = try await f.store.enqueue(NewJob(channel: "facts", topic: "honey", options: ["format": "short"], uniqueKey: "facts@2026-11-25T18:00Z"))
        let b = try await f.store.enqueue(NewJob(channel: "facts", topic: "other", uniqueKey: "facts@2026-11-25T18:00Z"))
        #expect(a.inserted && !b.inserted)
        #expect(a.job.id == b.job.id)
        #expect(b.job.topic == "honey")
        #expect(a.job.state == .queued && a.job.attempt == 0 && a.job.maxAttempts == 3)
        #expect(a.job.payload == #"{"options":{"format":"short"},"topic":"honey"}"#)
        let c = try await f.store.enqueue(NewJob(channel: "facts"))
        let d = try await f.store.enqueue(NewJob(channel: "facts"))
        #expect(c.job.id != d.job.id)
        await #expect(throws: JobStoreError.self) { try await f.store.enqueue(NewJob(channel: "facts", maxAttempts: 0)) }
    }

    /// Enqueues of one channel at once, without a topic, from several stores (processes, hosts):
    /// each takes another topic. The topic was suggested by a read apart from the insert, and four
    /// `ytauto enqueue facts` at once made two jobs each of two topics (one then failed
    /// `video.near_duplicate`).
    @Test(arguments: StoreEngine.all) func enqueuesAtOnceTakeDifferentTopics(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        var channel = ChannelConfig.defaults(for: .facts)
        channel.topics = ["a", "b", "c", "d", "e", "f"]
        // Four stores on the system's clock, as four processes would be. (The fixture's store runs on
        // its own fixed clock, in 2027: mixed with these, whose times are today's, which topic was
        // least recently used depended on which store enqueued first, and two could take one
        // topic, as a CI run under load saw.)
        var stores: [any OperatorStore] = []
        for _ in 0..<4 {
            if let pg = f.store as? PostgresJobStore { stores.append(try await PostgresJobStore(url: pg.url)) } else {
                stores.append(try SQLiteJobStore(path: f.dir.path("jobs.db")))
            }
        }
        let all = stores, facts = channel
        for round in 0..<3 {
            let topics = try await withThrowingTaskGroup(of: String?.self) { group in
                for store in all {
                    group.addTask { try await store.enqueueNextTopic(NewJob(channel: "facts", topic: "ignored"), channel: facts).result.job.topic }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(Set(topics.compactMap { $0 }).count == 4, "round \(round): \(topics)")
            #expect(!topics.contains("ignored"))
        }
    }

    /// A job not yet due is left by every lease but one that asks for it by id (`run-once`), which
    /// takes it at once and makes it due from then.
    @Test(arguments: StoreEngine.all) func aJobAskedForByIdIsLeasedBeforeItsDueTime(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let ahead = f.clock.now.addingTimeInterval(60)
        let id = try await f.store.enqueue(NewJob(channel: "facts", runAt: ahead)).job.id
        #expect(try await f.store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(30)) == nil)
        #expect(try await f.store.lease(worker: "w", channels: ["facts"], kind: .video, pipeline: nil, duration: .seconds(30)) == nil)
        let lease = try #require(try await f.store.lease(worker: "run-once", channels: nil, kind: .video, pipeline: nil, duration: .seconds(30), only: id))
        let job = try await f.row(id)
        #expect(job.state == .running && job.leaseOwner == "run-once")
        #expect(abs(job.runAt.timeIntervalSince(f.clock.now)) < 0.01 && job.scheduledAt.map { abs($0.timeIntervalSince(f.clock.now)) < 0.01 } == true,
                "\(job.runAt) \(String(describing: job.scheduledAt)), now \(f.clock.now)")
        // A due job asked for by id keeps its times.
        let due = try await f.store.enqueue(NewJob(channel: "facts", runAt: f.clock.now.addingTimeInterval(-30))).job
        _ = try #require(try await f.store.lease(worker: "run-once", channels: nil, kind: .video, pipeline: nil, duration: .seconds(30), only: due.id))
        #expect(abs(try await f.row(due.id).runAt.timeIntervalSince(due.runAt)) < 0.01)
        _ = lease
    }

    @Test(arguments: StoreEngine.all) func leaseTakesByPriorityThenRunAtThenID(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let now = f.clock.now
        let late = try await f.store.enqueue(NewJob(channel: "a", priority: 5, runAt: now.addingTimeInterval(-10))).job
        let urgentNewer = try await f.store.enqueue(NewJob(channel: "a", priority: 0, runAt: now.addingTimeInterval(-1))).job
        let urgentOlder = try await f.store.enqueue(NewJob(channel: "a", priority: 0, runAt: now.addingTimeInterval(-5))).job
        let urgentOlderTwin = try await f.store.enqueue(NewJob(channel: "a", priority: 0, runAt: now.addingTimeInterval(-5))).job
        let future = try await f.store.enqueue(NewJob(channel: "a", priority: -10, runAt: now.addingTimeInterval(60))).job
        var order: [Int64] = []
        while let lease = try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)) { order.append(lease.jobID) }
        #expect(order == [urgentOlder.id, urgentOlderTwin.id, urgentNewer.id, late.id])
        f.clock.advance(61)
        #expect(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30))?.jobID == future.id)
    }

    @Test(arguments: StoreEngine.all) func leaseFiltersByChannelAndStartsAnAttempt(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        _ = try await f.store.enqueue(NewJob(channel: "horror"))
        let facts = try await f.store.enqueue(NewJob(channel: "facts")).job
        #expect(try await f.store.lease(worker: "w", channels: ["finance"], duration: .seconds(30)) == nil)
        #expect(try await f.store.lease(worker: "w", channels: [], duration: .seconds(30)) == nil)
        let lease = try #require(try await f.store.lease(worker: "w1", channels: ["facts", "finance"], duration: .seconds(30)))
        #expect(lease.jobID == facts.id)
        #expect(lease.token == 1 && lease.attempt == 1 && lease.owner == "w1")
        #expect(lease.expiresAt == f.clock.now.addingTimeInterval(30))
        let job = try await f.row(facts.id)
        #expect(job.state == .running && job.leaseOwner == "w1")
        let attempts = try await f.store.attempts(jobID: facts.id)
        #expect(attempts.count == 1)
        #expect(attempts[0].workerID == "w1" && attempts[0].outcome == nil && attempts[0].channel == "facts")
    }

    /// What a worker that lost a lease's answer asks: the running jobs it holds, as leases it
    /// can use (each write fenced by the token the store holds now).
    @Test(arguments: StoreEngine.all) func aWorkerIsToldTheLeasesItHolds(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        for topic in ["a", "b", "c", "d"] { _ = try await f.store.enqueue(NewJob(channel: "facts", topic: topic)) }
        let a = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let b = try #require(try await f.store.lease(worker: "v", channels: nil, duration: .seconds(30)))
        let c = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(60)))
        let d = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        _ = try await f.store.complete(d)
        let held = try await f.store.leases(heldBy: "w")
        // Not v's job, not the finished one; each as the store holds it.
        #expect(held == [a, c])
        #expect(held.map(\.expiresAt) == [f.clock.now.addingTimeInterval(30), f.clock.now.addingTimeInterval(60)])
        #expect(try await f.store.leases(heldBy: "v").map(\.jobID) == [b.jobID])
        #expect(try await f.store.leases(heldBy: "nobody").isEmpty)
        // A lease so found is the lease: it completes the job.
        #expect(try await f.store.complete(held[1]).state == .succeeded)
        #expect(try await f.store.leases(heldBy: "w").map(\.jobID) == [a.jobID])
    }

    @Test(arguments: StoreEngine.all) func aCompletionLeasesTheNextJobInTheSameStep(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let a = try await f.store.enqueue(NewJob(channel: "facts")).job
        let b = try await f.store.enqueue(NewJob(channel: "horror")).job
        let c = try await f.store.enqueue(NewJob(channel: "facts")).job
        let factsOnly = LeaseRequest(worker: "w", channels: ["facts"], pipeline: "p", duration: .seconds(30))
        let any = LeaseRequest(worker: "w", channels: nil, pipeline: "p", duration: .seconds(30))
        let first = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        #expect(first.jobID == a.id)
        // The next job honours the request's channels: c, not b.
        let one = try await f.store.complete(first, thenLease: factsOnly)
        #expect(one.job.id == a.id && one.job.state == .succeeded)
        let second = try #require(one.next)
        #expect(second.jobID == c.id && second.owner == "w" && second.token == 1 && second.attempt == 1)
        #expect(second.expiresAt == f.clock.now.addingTimeInterval(30))
        #expect(try await f.row(c.id).state == .running)
        #expect(try await f.store.attempts(jobID: a.id).map(\.outcome) == [.succeeded])
        let cAttempts = try await f.store.attempts(jobID: c.id)
        #expect(cAttempts.map(\.outcome) == [nil] && cAttempts.first?.pipeline == "p" && cAttempts.first?.workerID == "w")
        let two = try await f.store.complete(second, thenLease: any)
        let third = try #require(two.next)
        #expect(two.job.id == c.id && third.jobID == b.id)
        // Nothing left to lease: the completion alone.
        let three = try await f.store.complete(third, thenLease: any)
        #expect(three.job.state == .succeeded && three.next == nil)
        // A stale lease completes nothing and leases nothing.
        let d = try await f.store.enqueue(NewJob(channel: "facts")).job
        await #expect(throws: LeaseLost.self) { _ = try await f.store.complete(first, thenLease: any) }
        #expect(try await f.row(d.id).state == .queued)
        #expect(try await f.store.attempts(jobID: d.id).isEmpty)
        // Asked for no next lease, it leases none.
        let dLease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let e = try await f.store.enqueue(NewJob(channel: "facts")).job
        #expect(try await f.store.complete(dLease, thenLease: nil).next == nil)
        #expect(try await f.row(e.id).state == .queued)
    }

    /// On SQLite the completion and the next lease are one transaction: another connection sees one commit.
    @Test func onSQLiteACompletionAndTheNextLeaseAreOneCommit() async throws {
        let f = try await Fixture(.sqlite)
        let store = try f.sqlite()
        for _ in 0..<3 { _ = try await store.enqueue(NewJob(channel: "facts")) }
        let other = try SQLiteJobStore(path: f.dir.path("jobs.db"))
        let request = LeaseRequest(worker: "w", channels: nil, duration: .seconds(30))
        var lease = try #require(try await store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        for _ in 0..<2 {
            let before = try await other.dataVersion()
            let completion = try await store.complete(lease, thenLease: request)
            #expect(try await other.dataVersion() == before + 1)
            lease = try #require(completion.next)
        }
    }

    @Test(arguments: StoreEngine.all) func anExpiredLeaseIsLeasableAgainWithANewToken(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a")).job.id
        let first = try #require(try await f.store.lease(worker: "w1", channels: nil, duration: .seconds(30)))
        #expect(try await f.store.lease(worker: "w2", channels: nil, duration: .seconds(30)) == nil)
        f.clock.advance(29)
        #expect(try await f.store.reclaim().isEmpty)
        f.clock.advance(2)
        let report = try await f.store.reclaim()
        #expect(report.requeued == [id])
        let second = try #require(try await f.store.lease(worker: "w2", channels: nil, duration: .seconds(30)))
        #expect(second.jobID == id && second.token == first.token + 1 && second.attempt == 2)
        let attempts = try await f.store.attempts(jobID: id)
        #expect(attempts.map(\.outcome) == [.lost, nil])
        #expect(attempts[0].errorCode == "lease.expired")
    }

    @Test(arguments: StoreEngine.all) func heartbeatExtendsAndReportsACancelRequest(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        f.clock.advance(20)
        #expect(try await f.store.heartbeat(lease, duration: .seconds(30)) == .held(until: f.clock.now.addingTimeInterval(30)))
        f.clock.advance(20)
        #expect(try await f.store.reclaim().isEmpty)  // 40 s after the lease, but the heartbeat moved it
        #expect(try await f.store.cancel(jobID: id) == .requested)
        #expect(try await f.store.heartbeat(lease, duration: .seconds(30)) == .cancelRequested(until: f.clock.now.addingTimeInterval(30)))
        let done = try await f.store.markCancelled(lease)
        #expect(done.state == .cancelled && done.finishedAt != nil && done.leaseOwner == nil)
        #expect(try await f.store.attempts(jobID: id).map(\.outcome) == [.cancelled])
    }

    @Test(arguments: StoreEngine.all) func checkpointsRecordStagesArtifactsAndDurations(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let start = f.clock.now
        try await f.store.checkpoint(lease, stage: "script", state: .running, artifacts: [], startedAt: start, error: nil)
        #expect(try await f.row(id).currentStage == "script")
        f.clock.advance(1.25)
        let art = Artifact(path: "/out/script.json", bytes: 120, sha256: String(repeating: "a", count: 64))
        try await f.store.checkpoint(lease, stage: "script", state: .succeeded, artifacts: [art], startedAt: start, error: nil)
        try await f.store.checkpoint(lease, stage: "narration", state: .failed, artifacts: [], startedAt: f.clock.now,
                                     error: JobFailure(code: "tts.quota_exceeded", message: "quota", isRetryable: true))
        let stages = try await f.store.stages(jobID: id)
        #expect(stages.map(\.stage) == ["script", "narration"])
        #expect(stages[0].state == .succeeded && stages[0].artifacts == [art] && stages[0].durationMS == 1250 && stages[0].attempt == 1)
        #expect(stages[1].state == .failed && stages[1].errorCode == "tts.quota_exceeded")
        let done = try await f.store.complete(lease)
        #expect(done.state == .succeeded && done.finishedAt == f.clock.now)
        #expect(try await f.store.attempts(jobID: id).first?.outcome == .succeeded)
    }

    @Test(arguments: StoreEngine.all) func aRetryableFailureBacksOffWithinBounds(engine: StoreEngine) async throws {
        let f = try await Fixture(engine, retryPolicy: RetryPolicy(base: .seconds(10), cap: .seconds(60)))
        let id = try await f.store.enqueue(NewJob(channel: "a", maxAttempts: 5)).job.id
        for attempt in 1...4 {
            let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
            let job = try await f.store.fail(lease, error: JobFailure(code: "image.server_error", message: "502", isRetryable: true))
            #expect(job.state == .queued && job.attempt == attempt)
            let delay = job.runAt.timeIntervalSince(f.clock.now)
            let nominal = min(60, 10 * pow(2, Double(attempt - 1)))
            #expect(delay >= nominal / 2 - 0.001 && delay <= nominal + 0.001, "attempt \(attempt): \(delay)")
            #expect(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)) == nil)
            f.clock.advance(delay)
        }
        let last = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let failed = try await f.store.fail(last, error: JobFailure(code: "image.server_error", message: "502", isRetryable: true))
        #expect(failed.state == .failed && failed.attempt == 5 && failed.lastErrorCode == "image.server_error")
        #expect(try await f.store.attempts(jobID: id).map(\.outcome) == [.retrying, .retrying, .retrying, .retrying, .failed])
    }

    @Test(arguments: StoreEngine.all) func theErrorsRetryTimeWinsAndAQuotaParkSpendsNoAttempt(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a", maxAttempts: 1)).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let reset = YouTubeQuotaExceededError.nextQuotaReset(after: f.clock.now)
        let parked = try await f.store.fail(lease, error: JobFailure(YouTubeQuotaExceededError(message: "quotaExceeded", retryAt: reset)))
        #expect(parked.state == .queued && parked.runAt == reset && parked.attempt == 0)
        #expect(parked.lastErrorCode == "youtube.quota_exceeded")
        f.clock.advance(reset.timeIntervalSince(f.clock.now))
        let again = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        #expect(again.attempt == 1)
        let at = f.clock.now.addingTimeInterval(90)
        _ = try await f.store.complete(again)
        #expect(try await f.row(id).state == .succeeded)

        let other = try await f.store.enqueue(NewJob(channel: "a", maxAttempts: 3)).job.id
        let l = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        #expect(l.jobID == other)
        let rated = try await f.store.fail(l, error: JobFailure(LLMRateLimitError(message: "429", retryAt: at)))
        #expect(rated.runAt == at && rated.attempt == 1)
    }

    @Test(arguments: StoreEngine.all) func aPermanentErrorFailsAtOnce(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a", maxAttempts: 3)).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let job = try await f.store.fail(lease, error: JobFailure(ScriptValidationError(issues: ["no hook"])))
        #expect(job.state == .failed && job.attempt == 1 && job.lastErrorCode == "script.invalid")
        #expect(job.lastErrorMessage?.contains("no hook") == true)
        let failed = try await f.store.listFailed(channel: nil, since: nil, limit: 10)
        #expect(failed.map(\.id) == [id])
    }

    @Test(arguments: StoreEngine.all) func handBackQueuesAgainWithoutSpendingTheAttempt(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a", maxAttempts: 1)).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        let back = try await f.store.handBack(lease)
        #expect(back.state == .queued && back.attempt == 0 && back.runAt == f.clock.now && back.leaseOwner == nil)
        let again = try #require(try await f.store.lease(worker: "w2", channels: nil, duration: .seconds(30)))
        #expect(again.jobID == id && again.attempt == 1)
        #expect(try await f.store.attempts(jobID: id).map(\.outcome) == [.handedBack, nil])
    }

    @Test(arguments: StoreEngine.all) func cancelQueuedRunningAndFinished(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let queued = try await f.store.enqueue(NewJob(channel: "a")).job.id
        #expect(try await f.store.cancel(jobID: queued) == .cancelled)
        #expect(try await f.row(queued).state == .cancelled)
        #expect(try await f.store.cancel(jobID: queued) == .alreadyFinished(.cancelled))
        await #expect(throws: JobStoreError.notFound(999)) { try await f.store.cancel(jobID: 999) }

        let running = try await f.store.enqueue(NewJob(channel: "a")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        #expect(try await f.store.cancel(jobID: running) == .requested)
        #expect(try await f.row(running).cancelRequested)
        // A worker that fails or hands back a job with a cancel request ends it cancelled.
        let ended = try await f.store.fail(lease, error: JobFailure(code: "x", message: "y", isRetryable: true))
        #expect(ended.state == .cancelled)
    }

    /// A retry on condition (what a worker does on its own): only the job as it was read; one that
    /// changed since (retried and failed again, here a second time) is left alone.
    @Test(arguments: StoreEngine.all) func aConditionalRetryActsOnlyOnTheJobAsItWasRead(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a", maxAttempts: 1)).job.id
        func runAndFail() async throws -> Job {
            let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
            f.clock.advance(5)
            return try await f.store.fail(lease, error: JobFailure(code: "work.stuck", message: "held", isRetryable: false))
        }
        let seen = try await runAndFail()
        _ = try await f.store.retry(jobID: id)  // someone else's retry, and the job fails again
        f.clock.advance(5)
        let now = try await runAndFail()
        #expect(now.state == .failed && now.updatedAt != seen.updatedAt)
        #expect(try await f.store.retry(jobID: id, ifUnchangedSince: seen.updatedAt) == nil)
        let after = try await f.row(id)
        #expect(after.state == .failed && after.updatedAt == now.updatedAt, "left as it was")
        let retried = try #require(try await f.store.retry(jobID: id, ifUnchangedSince: now.updatedAt))
        #expect(retried.state == .queued)
    }

    @Test(arguments: StoreEngine.all) func retryQueuesFailedJobsAgainKeepingTheirStages(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a", maxAttempts: 1)).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        try await f.store.checkpoint(lease, stage: "script", state: .succeeded, artifacts: [], startedAt: f.clock.now, error: nil)
        _ = try await f.store.fail(lease, error: JobFailure(code: "x.y", message: "boom", isRetryable: true))
        #expect(try await f.row(id).state == .failed)
        let retried = try await f.store.retry(jobID: id)
        #expect(retried.state == .queued && retried.maxAttempts == 2 && retried.finishedAt == nil)
        #expect(try await f.store.stages(jobID: id).map(\.stage) == ["script"])
        await #expect(throws: JobStoreError.self) { try await f.store.retry(jobID: id) }

        let other = try await f.store.enqueue(NewJob(channel: "b", maxAttempts: 1)).job.id
        for _ in 0..<2 {
            let l = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
            _ = try await f.store.fail(l, error: JobFailure(code: "x.y", message: "boom", isRetryable: false))
        }
        #expect(try await f.store.retryAllFailed(channel: "b") == [other])
        #expect(try await f.store.retryAllFailed(channel: nil) == [id])
        #expect(try await f.store.retryAllFailed(channel: nil).isEmpty)
    }

    @Test(arguments: StoreEngine.all) func listFailedHistoryAndStatsFilter(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        var ids: [String: Int64] = [:]
        for channel in ["horror", "facts", "facts"] {
            let id = try await f.store.enqueue(NewJob(channel: channel, maxAttempts: 1)).job.id
            let l = try #require(try await f.store.lease(worker: "w", channels: [channel], duration: .seconds(30)))
            f.clock.advance(60)
            _ = try await f.store.fail(l, error: JobFailure(code: "\(channel).bad", message: "m", isRetryable: false))
            ids[channel] = id
        }
        _ = try await f.store.enqueue(NewJob(channel: "finance"))
        let all = try await f.store.listFailed(channel: nil, since: nil, limit: 10)
        #expect(all.count == 3)
        #expect(all.first?.id == ids["facts"])  // newest first
        #expect(try await f.store.listFailed(channel: "horror", since: nil, limit: 10).map(\.id) == [ids["horror"]!])
        #expect(try await f.store.listFailed(channel: nil, since: f.clock.now.addingTimeInterval(-90), limit: 10).count == 2)
        #expect(try await f.store.listFailed(channel: nil, since: nil, limit: 1).count == 1)
        // By the last error's code: alone, with a channel, with a time, and a code no job has.
        #expect(try await f.store.listFailed(channel: nil, code: "facts.bad", since: nil, limit: 10).map(\.id) == all.filter { $0.channel == "facts" }.map(\.id))
        #expect(try await f.store.listFailed(channel: "horror", code: "horror.bad", since: nil, limit: 10).map(\.id) == [ids["horror"]!])
        #expect(try await f.store.listFailed(channel: "facts", code: "horror.bad", since: nil, limit: 10).isEmpty)
        #expect(try await f.store.listFailed(channel: nil, code: "facts.bad", since: f.clock.now.addingTimeInterval(-30), limit: 10).map(\.id) == [ids["facts"]!])
        #expect(try await f.store.listFailed(channel: nil, code: "facts.bad", since: nil, limit: 1).map(\.id) == [ids["facts"]!])
        #expect(try await f.store.listFailed(channel: nil, code: "facts", since: nil, limit: 10).isEmpty)
        #expect(try await f.store.history(channel: "facts", limit: 10).count == 2)
        #expect(try await f.store.history(channel: nil, limit: 10).count == 3)
        let stats = try await f.store.stats()
        #expect(stats.counts["facts"]?[.failed] == 2)
        #expect(stats.counts["finance"]?[.queued] == 1)
        #expect(stats.byState[.failed] == 3)
        #expect(stats.oldestDueQueuedAt != nil)
    }

    /// Failed jobs that finished at the same instant (a dead worker's jobs are released with one
    /// time) are listed newest id first, on every engine and by every filter, so a `--limit`
    /// cuts them at the same place: not in the order they happen to lie in the table.
    @Test(arguments: StoreEngine.all) func failedJobsOfTheSameInstantAreListedByIDOnEveryEngine(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        var leases: [Lease] = []
        for _ in 0..<4 {
            _ = try await f.store.enqueue(NewJob(channel: "tied", maxAttempts: 1))
            leases.append(try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30))))
        }
        for i in [2, 0, 3, 1] {  // failed out of id order, all at the clock's one instant
            _ = try await f.store.fail(leases[i], error: JobFailure(code: "tied.bad", message: "m", isRetryable: false))
        }
        let newestFirst = leases.map(\.jobID).sorted(by: >)
        for (channel, code) in [(nil, nil), ("tied", nil), (nil, "tied.bad"), ("tied", "tied.bad")] as [(String?, String?)] {
            let listed = try await f.store.listFailed(channel: channel, code: code, since: nil, limit: 10).map(\.id)
            #expect(listed == newestFirst, "channel \(channel ?? "any"), code \(code ?? "any")")
            let cut = try await f.store.listFailed(channel: channel, code: code, since: nil, limit: 2).map(\.id)
            #expect(cut == Array(newestFirst.prefix(2)), "channel \(channel ?? "any"), code \(code ?? "any")")
        }
    }

    /// Whether prune would delete a job a worker took (so it may have folders): prune refuses to
    /// run from a folder without the work_dir only then, not for jobs cancelled while queued.
    @Test(arguments: StoreEngine.all) func prunableJobsRanTellsAJobAWorkerTookFromOneNeverTaken(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let queued = try await f.store.enqueue(NewJob(channel: "facts", topic: "never taken")).job.id
        #expect(try await f.store.cancel(jobID: queued) == .cancelled)
        f.clock.advance(10)
        #expect(try await f.store.prunableJobsRan(finishedBefore: f.clock.now) == false)
        let ran = try await f.store.enqueue(NewJob(channel: "facts", topic: "taken")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(60)))
        #expect(lease.jobID == ran)
        _ = try await f.store.complete(lease)
        let finished = f.clock.now
        #expect(try await f.store.prunableJobsRan(finishedBefore: finished) == false)  // finished at the cutoff: not pruned
        f.clock.advance(10)
        #expect(try await f.store.prunableJobsRan(finishedBefore: f.clock.now) == true)
    }

    @Test(arguments: StoreEngine.all) func pruneDeletesOldFinishedJobsInBatchesWithTheirRows(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        for _ in 0..<7 {
            _ = try await f.store.enqueue(NewJob(channel: "a"))
            let l = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
            try await f.store.checkpoint(l, stage: "s", state: .succeeded, artifacts: [], startedAt: f.clock.now, error: nil)
            _ = try await f.store.complete(l)
        }
        f.clock.advance(40 * 86_400)
        let recent = try await f.store.enqueue(NewJob(channel: "a")).job.id
        let l = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        _ = try await f.store.complete(l)
        let queued = try await f.store.enqueue(NewJob(channel: "a", runAt: Date(timeIntervalSince1970: 0))).job.id
        let pruned = try await f.store.prune(finishedBefore: f.clock.now.addingTimeInterval(-30 * 86_400), batchSize: 3)
        #expect(pruned == 7)
        let remaining = (try await f.number("SELECT count(*) AS n FROM jobs"),
                         try await f.number("SELECT count(*) AS n FROM job_stages"),
                         try await f.number("SELECT count(*) AS n FROM job_attempts"))
        #expect(remaining.0 == 2 && remaining.1 == 0 && remaining.2 == 1)
        #expect(try await f.store.job(id: recent) != nil)
        #expect(try await f.store.job(id: queued) != nil)
    }

    /// A job's id is never given again, even when prune deletes every job: SQLite gives a new row
    /// the highest id left + 1, and the slots, audit entries, channel history and output folder
    /// that name the pruned job would name the new one. On SQLite the highest deleted id is kept
    /// (`job_id_high`); on PostgreSQL the identity never goes back.
    @Test(arguments: StoreEngine.all) func anIdIsNeverGivenTwiceEvenWhenPruneTakesEveryJob(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        var ids: [Int64] = []
        for _ in 0..<3 {
            ids.append(try await f.store.enqueue(NewJob(channel: "a")).job.id)
            let l = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
            _ = try await f.store.complete(l)
        }
        f.clock.advance(40 * 86_400)
        #expect(try await f.store.prune(finishedBefore: f.clock.now, batchSize: 2) == 3)
        let next = try await f.store.enqueue(NewJob(channel: "a")).job.id
        let after = try await f.store.enqueue(NewJob(channel: "a")).job.id
        #expect(next == ids.max()! + 1 && after == next + 1, "jobs \(next), \(after) after jobs \(ids) were pruned")
    }
}
