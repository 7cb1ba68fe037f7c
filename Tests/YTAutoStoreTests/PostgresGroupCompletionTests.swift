import Foundation
import PostgresNIO
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoPostgres

/// PostgreSQL's group commit (``CompletionGroups``): a worker's slots completing together on the
/// store's bookkeeping thread share one statement, and each keeps its own outcome. Rows written
/// by one transaction share its id (`xmin`), which is how these tests see what shared one.
@Suite(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
struct PostgresGroupCompletionTests {
    struct Fixture {
        let store: PostgresJobStore
        let name: String
        let server: PostgresServer
        let worker: String

        /// The transaction that last wrote each job (its `xmin`).
        func writers(_ ids: [Int64]) async throws -> [String] {
            let text = try await server.psql("SELECT xmin FROM jobs WHERE id IN (\(ids.map(String.init).joined(separator: ","))) ORDER BY id", database: name)
            return text.split(separator: "\n").map(String.init)
        }
    }

    func fixture(jobs: Int) async throws -> (Fixture, [Lease]) {
        let server = try await PostgresServer.server()
        let url = try PostgresURL(try await server.createDatabase(prefix: "groups"))
        let store = try await PostgresJobStore(url: url)
        let worker = try await store.registerWorker().id
        for i in 0..<jobs { _ = try await store.enqueue(NewJob(channel: "c", topic: "t\(i)")) }
        var leases: [Lease] = []
        for _ in 0..<2 { leases.append(try #require(try await store.lease(worker: worker, channels: nil, duration: .seconds(300)))) }
        return (Fixture(store: store, name: url.database, server: server, worker: worker), leases)
    }

    /// Both slots' completions, asked for together on the thread as a worker's slots ask (each
    /// leasing for `worker`, or the fixture's worker).
    func completeTogether(_ f: Fixture, _ a: Lease, _ b: Lease, workers: (String, String)? = nil) async
        -> (Result<Completion, any Error>, Result<Completion, any Error>) {
        let (wa, wb) = workers ?? (f.worker, f.worker)
        return await withTaskExecutorPreference(f.store.bookkeepingExecutor) {
            async let x = Result { try await f.store.complete(a, thenLease: LeaseRequest(worker: wa, channels: nil, duration: .seconds(300))) }
            async let y = Result { try await f.store.complete(b, thenLease: LeaseRequest(worker: wb, channels: nil, duration: .seconds(300))) }
            return await (x, y)
        }
    }

    @Test func twoSlotsCompletingTogetherShareOneStatementAndEachLeasesItsOwnNextJob() async throws {
        let (f, leases) = try await fixture(jobs: 6)
        defer { f.store.close() }
        let (x, y) = await completeTogether(f, leases[0], leases[1])
        let a = try x.get(), b = try y.get()
        #expect(a.job.state == .succeeded && b.job.state == .succeeded)
        let nextA = try #require(a.next), nextB = try #require(b.next)
        #expect(nextA.jobID != nextB.jobID)
        #expect(Set([nextA.jobID, nextB.jobID]).isDisjoint(with: leases.map(\.jobID)))
        // One transaction wrote the two completions and the two leases.
        let writers = try await f.writers(leases.map(\.jobID) + [nextA.jobID, nextB.jobID])
        #expect(Set(writers).count == 1, "\(writers)")
        // Each attempt ended, each new one recorded, under its own token.
        let attempts = try await f.store.attempts(jobID: leases[0].jobID) + (try await f.store.attempts(jobID: leases[1].jobID))
        #expect(attempts.map(\.outcome) == [.succeeded, .succeeded])
        for next in [nextA, nextB] {
            let started = try await f.store.attempts(jobID: next.jobID)
            #expect(started.count == 1 && started[0].outcome == nil && started[0].leaseToken == next.token)
        }
        // The new leases hold: they complete (each alone, off the thread).
        for next in [nextA, nextB] { #expect(try await f.store.complete(next).state == .succeeded) }
    }

    @Test func aStaleLeaseInTheGroupIsRefusedAloneAndLeasesNothing() async throws {
        let (f, leases) = try await fixture(jobs: 6)
        defer { f.store.close() }
        // The second slot's lease was taken over (another worker's lease bumped the token).
        try await f.server.psql("UPDATE jobs SET lease_token = lease_token + 1 WHERE id = \(leases[1].jobID)", database: f.name)
        let (x, y) = await completeTogether(f, leases[0], leases[1])
        let a = try x.get()
        #expect(a.job.state == .succeeded && a.next != nil)
        #expect(throws: LeaseLost.self) { try y.get() }
        // The refused job is as it was: running, its attempt open; only one next job was leased.
        #expect(try await f.store.job(id: leases[1].jobID)?.state == .running)
        #expect(try await f.store.attempts(jobID: leases[1].jobID).map(\.outcome) == [nil])
        #expect(try await f.store.runningJobs().count == 2, "the taken-over job and one new lease")
    }

    @Test func twoCompletionsWithOneJobLeftLeaseItOnce() async throws {
        let (f, leases) = try await fixture(jobs: 3)
        defer { f.store.close() }
        let (x, y) = await completeTogether(f, leases[0], leases[1])
        let a = try x.get(), b = try y.get()
        #expect(a.job.state == .succeeded && b.job.state == .succeeded)
        #expect([a.next, b.next].compactMap { $0 }.count == 1)
        #expect(try await f.store.runningJobs().count == 1)
    }

    /// A group's statement leases `LIMIT (SELECT count(*) FROM done)` jobs, no constant, so the
    /// planner guesses a tenth of the queue: on a queue of nothing but queued jobs (a new
    /// installation with a backlog) it then hashed every job to find the picked ones, unless
    /// they are found by their ids.
    @Test func aGroupsStatementProbesThePickedJobsByIdOnAQueueOfQueuedJobs() async throws {
        let (f, leases) = try await fixture(jobs: 2)
        defer { f.store.close() }
        _ = try await f.server.psql("""
            INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, created_at, updated_at, kind, scheduled_at)
            SELECT 'c', 'queued ' || i, '{}', 'queued', 0, now() - interval '1 hour', 3, now(), now(), 'video', now() FROM generate_series(1, 20000) AS i;
            ANALYZE jobs;
            ANALYZE job_attempts;
            """, database: f.name)
        let q = PostgresJobStore.leaseQuery(worker: f.worker, channels: nil, kind: .video, pipeline: nil, seconds: 300, only: nil, now: nil,
                                            completing: leases)
        let rows = try await f.store.pool.query(PostgresQuery(unsafeSQL: "EXPLAIN (ANALYZE) " + q.sql, binds: q.binds))
        let plan = try rows.map { try $0.required("QUERY PLAN", $0.string) }.joined(separator: "\n")
        #expect(!plan.contains("Seq Scan on jobs "), "\(plan)")
    }

    /// A job whose lease expired and that this worker leased again: its old lease and its new one
    /// complete in one group. Only the new one holds: it completes and leases; the old one is
    /// refused (the same lease twice likewise completes once).
    @Test func theSameJobTwiceInAGroupIsCreditedOnceToTheLeaseThatHoldsIt() async throws {
        let (f, _) = try await fixture(jobs: 6)
        defer { f.store.close() }
        let id = try await f.store.enqueue(NewJob(channel: "c", topic: "again", priority: -1)).job.id
        let stale = try #require(try await f.store.lease(worker: f.worker, channels: nil, duration: .seconds(1), only: id))
        try await Task.sleep(for: .milliseconds(1500))
        _ = try await f.store.reclaim()
        let current = try #require(try await f.store.lease(worker: f.worker, channels: nil, duration: .seconds(300), only: id))
        #expect(current.token != stale.token)
        let (x, y) = await completeTogether(f, stale, current)
        #expect(throws: LeaseLost.self) { try x.get() }
        let held = try y.get()
        #expect(held.job.state == .succeeded && held.next != nil)
        let outcomes = try await f.store.attempts(jobID: id).map(\.outcome)
        #expect(outcomes == [.lost, .succeeded], "\(outcomes)")

        let once = try #require(try await f.store.lease(worker: f.worker, channels: nil, duration: .seconds(300)))
        let (first, second) = await completeTogether(f, once, once)
        #expect((try? first.get()) != nil)
        #expect(throws: LeaseLost.self) { try second.get() }
    }

    /// Two workers' completions in one group: each request is its own statement, and each worker
    /// gets a lease of its own.
    @Test func completionsForDifferentRequestsLeaseEachForItsOwnWorker() async throws {
        let (f, leases) = try await fixture(jobs: 6)
        defer { f.store.close() }
        let other = try await f.store.registerWorker().id
        let theirs = try #require(try await f.store.lease(worker: other, channels: nil, duration: .seconds(300)))
        let (x, y) = await completeTogether(f, leases[0], theirs, workers: (f.worker, other))
        let mine = try #require(try x.get().next), next = try #require(try y.get().next)
        #expect(mine.owner == f.worker && next.owner == other)
        #expect(try await f.store.job(id: next.jobID)?.leaseOwner == other)
        #expect(Set(try await f.writers([leases[0].jobID, theirs.jobID])).count == 2, "one statement a request")
    }
}
