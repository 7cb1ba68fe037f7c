import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport
import YTAutoSupport
@testable import YTAutoPostgres
import PostgresNIO

/// The channels' history on every engine: newest first by the store's clock, one entry a job, the
/// newest `keep` of a channel kept, a thumbnail's hash set on its job's entry.
@Suite struct ChannelHistoryLedgerTests {
    /// An import (an earlier version's files) adds what the store lacks, with its own times, and
    /// never writes over an entry made since.
    @Test(arguments: StoreEngine.all) func anImportAddsWhatIsMissingAndNeverOverwrites(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        try await s.recordChannelHistory(channel: "facts", job: 1, topic: "new", script: #"{"title":"New"}"#, keep: 50)
        let now = try #require(try await s.channelHistory(channel: "facts", limit: 1).first?.at)
        let old = { (job: Int64, days: Double) in
            ChannelHistoryEntry(channel: "facts", jobID: job, at: now.addingTimeInterval(-days * 86_400), topic: "old \(job)",
                                script: #"{"title":"Old"}"#, thumbnailHash: "00000000000000ff")
        }
        try await s.importChannelHistory([old(1, 1), old(2, 2), old(3, 3)], keep: 2)
        let rows = try await s.channelHistory(channel: "facts", limit: 10)
        #expect(rows.map(\.jobID) == [1, 2], "the newest two stay: \(rows.map(\.jobID))")
        #expect(rows.first?.topic == "new" && rows.first?.thumbnailHash == nil, "the entry made since is not overwritten")
        #expect(abs(rows[1].at.timeIntervalSince(now.addingTimeInterval(-2 * 86_400))) < 0.01 && rows[1].thumbnailHash == "00000000000000ff")
    }

    @Test(arguments: StoreEngine.all) func theNewestEntriesOfEachChannelAreKeptOnceAJob(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let copying = try #require(s as? any StoreCopying)
        #expect(try await copying.isEmptyForCopy())
        for job in Int64(1)...4 {
            try await s.recordChannelHistory(channel: "facts", job: job, topic: "t\(job)", script: #"{"title":"T\#(job)"}"#, keep: 3)
            f.clock.advance(60)
        }
        try await s.recordChannelHistory(channel: "horror", job: 9, topic: "h", script: #"{"title":"H"}"#, keep: 3)
        #expect(try await copying.isEmptyForCopy() == false, "a copy into it would collide with its history")
        var facts = try await s.channelHistory(channel: "facts", limit: 10)
        #expect(facts.map(\.jobID) == [4, 3, 2], "only the newest 3 of the channel stay, newest first")
        #expect(facts.first?.topic == "t4" && facts.first?.script == #"{"title":"T4"}"# && facts.first?.channel == "facts")
        // Times are the store's clock, a minute apart.
        #expect(abs(facts[0].at.timeIntervalSince(facts[1].at) - 60) < 0.01, "\(facts.map(\.at))")
        #expect(try await s.channelHistory(channel: "horror", limit: 10).map(\.jobID) == [9])
        #expect(try await s.channelHistory(channel: "facts", limit: 2).map(\.jobID) == [4, 3])

        try await s.recordChannelHistoryThumbnail("0123456789abcdef", channel: "facts", job: 3)
        try await s.recordChannelHistoryThumbnail("ffffffffffffffff", channel: "facts", job: 1)  // no longer kept: nothing
        try await s.recordChannelHistoryThumbnail("ffffffffffffffff", channel: "horror", job: 3)  // another channel's job: nothing
        facts = try await s.channelHistory(channel: "facts", limit: 10)
        #expect(facts.map(\.thumbnailHash) == [nil, "0123456789abcdef", nil])
        #expect(try await s.channelHistory(channel: "horror", limit: 10).first?.thumbnailHash == nil)

        // A job's script made again replaces its entry (its old thumbnail hash with it) and is the newest.
        f.clock.advance(60)
        try await s.recordChannelHistory(channel: "facts", job: 3, topic: "again", script: #"{"title":"T3b"}"#, keep: 3)
        facts = try await s.channelHistory(channel: "facts", limit: 10)
        #expect(facts.map(\.jobID) == [3, 4, 2] && facts.first?.topic == "again" && facts.first?.thumbnailHash == nil, "\(facts)")

        // A clock stepped back a day: the entry just written is kept all the same (the oldest other goes).
        f.clock.advance(-86_400)
        try await s.recordChannelHistory(channel: "facts", job: 5, topic: "late", script: #"{"title":"T5"}"#, keep: 3)
        #expect(try await s.channelHistory(channel: "facts", limit: 10).map(\.jobID) == [3, 4, 5], "the new entry, oldest by its time, stays")
    }
    /// A video never published (its job failed or was cancelled) is not given: the next videos
    /// are not compared with it (a cancelled job's script kept a channel's next ones from being
    /// made). A job queued again counts again.
    @Test(arguments: StoreEngine.all) func theEntriesOfFailedAndCancelledJobsAreNotGiven(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        var ids: [Int64] = []
        for topic in ["fails", "cancelled", "runs", "new"] {
            ids.append(try await s.enqueue(NewJob(channel: "facts", topic: topic, maxAttempts: 1)).job.id)
        }
        let (fails, cancelled, runs, new) = (ids[0], ids[1], ids[2], ids[3])
        for id in [fails, cancelled, runs] {
            try await s.recordChannelHistory(channel: "facts", job: id, topic: "t\(id)", script: #"{"title":"T"}"#, keep: 50)
            f.clock.advance(60)
        }
        let first = try #require(try await s.lease(worker: "w", channels: nil, duration: .seconds(60)))
        #expect(first.jobID == fails)
        _ = try await s.fail(first, error: JobFailure(code: "video.qa_failed", message: "m", isRetryable: false))
        #expect(try await s.cancel(jobID: cancelled) == .cancelled)
        #expect(try await s.lease(worker: "w", channels: nil, duration: .seconds(60))?.jobID == runs)
        #expect(try await s.channelHistory(channel: "facts", limit: 10).map(\.jobID) == [runs])
        let seen = Locked<[Int64]>([])
        try await s.recordChannelHistory(channel: "facts", job: new, topic: "new", script: #"{"title":"N"}"#, keep: 50) { seen.value = $0.map(\.jobID) }
        #expect(seen.value == [runs], "the check was given \(seen.value)")
        let thumbnailSeen = Locked<[Int64]>([])
        try await s.recordChannelHistoryThumbnail("0123456789abcdef", channel: "facts", job: new) { thumbnailSeen.value = $0.map(\.jobID) }
        #expect(thumbnailSeen.value == [runs])
        // Retried by an operator: queued again, and counted again.
        _ = try await s.retry(jobID: fails)
        #expect(try await s.channelHistory(channel: "facts", limit: 10).map(\.jobID) == [new, runs, fails])
    }

    /// A refusal of the test's own, as a near duplicate is refused.
    struct Refused: YTAutoError {
        var code: String { "test.refused" }
        var message: String { "refused by the check" }
        var isRetryable: Bool { false }
    }

    /// A second store on the fixture's database: another worker, or a worker on another host. On
    /// PostgreSQL its sessions default to REPEATABLE READ (as a database's administrator may set
    /// it): the check must see what committed while it waited for the channel's lock all the same.
    static func another(_ f: Fixture) async throws -> any ChannelHistoryLedger {
        if let pg = f.store as? PostgresJobStore {
            let name = try #require(try await pg.pool.queryOne("SELECT current_database() AS d")?.string("d"))
            _ = try await pg.pool.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \"\(name)\" SET default_transaction_isolation TO 'repeatable read'"))
            return try await PostgresJobStore(url: pg.url)
        }
        return try SQLiteJobStore(path: f.dir.path("jobs.db"))
    }

    /// Two jobs of a channel checked at once from two stores (two workers, two hosts): the second
    /// check waits for the first's write and sees it, for scripts and for thumbnails; a check that
    /// throws writes nothing and its own error comes out.
    @Test(arguments: StoreEngine.all) func aCheckWaitsForAnotherJobsWriteAndSeesIt(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let other = try await Self.another(f)
        let checking = Locked(false)
        let seen = Locked<[Int64: String?]?>(nil)
        let released = Locked(Date.distantFuture)
        // The first job holds its check a while; the second starts meanwhile.
        func holdingFirst(_ write: @escaping @Sendable (@escaping @Sendable ([ChannelHistoryEntry]) throws -> Void) async throws -> Void,
                          then second: () async throws -> Void) async throws {
            checking.value = false
            let first = Task { try await write { _ in checking.value = true; usleep(400_000); released.value = Date() } }
            while !checking.value { try await Task.sleep(for: .milliseconds(5)) }
            try await second()
            try await first.value
        }
        let store = f.store
        try await holdingFirst({ check in
            try await store.recordChannelHistory(channel: "facts", job: 1, topic: "a", script: #"{"title":"A"}"#, keep: 50, check: check)
        }, then: {
            try await other.recordChannelHistory(channel: "facts", job: 2, topic: "b", script: #"{"title":"B"}"#, keep: 50) { others in
                seen.value = Dictionary(uniqueKeysWithValues: others.map { ($0.jobID, $0.thumbnailHash) })
            }
        })
        #expect(seen.value == [1: String?.none], "the second script's check saw the first's entry")
        // The second entry's time is taken once its wait ended (by its store's clock: this
        // process's, or the test's PostgreSQL server's, on this machine): not before the wait,
        // which would make it older than the entry it waited for.
        let second = try #require(try await store.channelHistory(channel: "facts", limit: 10).first { $0.jobID == 2 })
        #expect(second.at >= released.value.addingTimeInterval(-0.01), "written at \(Timestamp.string(second.at)), the wait ended at \(Timestamp.string(released.value))")
        try await holdingFirst({ check in
            try await store.recordChannelHistoryThumbnail("00000000000000ff", channel: "facts", job: 1, check: check)
        }, then: {
            try await other.recordChannelHistoryThumbnail("000000000000ff00", channel: "facts", job: 2) { others in
                seen.value = Dictionary(uniqueKeysWithValues: others.map { ($0.jobID, $0.thumbnailHash) })
            }
        })
        #expect(seen.value == [1: "00000000000000ff"], "the second thumbnail's check saw the first's hash")

        await #expect(throws: Refused.self) {
            try await other.recordChannelHistory(channel: "facts", job: 3, topic: "c", script: #"{"title":"C"}"#, keep: 50) { _ in throw Refused() }
        }
        await #expect(throws: Refused.self) {
            try await other.recordChannelHistoryThumbnail("ffffffffffffffff", channel: "facts", job: 2) { _ in throw Refused() }
        }
        let rows = try await store.channelHistory(channel: "facts", limit: 10)
        #expect(rows.map(\.jobID).sorted() == [1, 2], "a refused script is not recorded")
        #expect(rows.first { $0.jobID == 2 }?.thumbnailHash == "000000000000ff00", "a refused thumbnail is not recorded")
    }
}
