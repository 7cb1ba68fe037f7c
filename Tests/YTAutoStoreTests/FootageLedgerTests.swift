import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport

/// The footage ledger on every engine: what a channel used is kept from its other jobs for the
/// reuse window, by the store's clock; the same job sees none of its own; a later use moves the time.
@Suite struct FootageLedgerTests {
    @Test(arguments: StoreEngine.all) func usedFootageIsKeptFromOtherJobsForTheWindow(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        try await s.recordFootage(channel: "facts", job: 1, keys: ["pexels:clip:1", "pexels:image:2", "pexels:clip:1"])
        try await s.recordFootage(channel: "horror", job: 2, keys: ["pixabay:clip:9"])
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 5) == ["pexels:clip:1", "pexels:image:2"])
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 1).isEmpty, "a job's own retry may pick the same")
        #expect(try await s.footageUsed(channel: "horror", days: 30, excludingJob: 5) == ["pixabay:clip:9"])
        #expect(try await s.footageUsed(channel: "facts", days: 0, excludingJob: 5).isEmpty, "0 days: anything may be used again")

        f.clock.advance(29 * 86_400)
        try await s.recordFootage(channel: "facts", job: 3, keys: ["pexels:image:2"])
        f.clock.advance(2 * 86_400)
        // Job 1's clip is 31 days old; the photo was used again by job 3 two days ago.
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 5) == ["pexels:image:2"])
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 3).isEmpty)
        #expect(try await s.footageUsed(channel: "facts", days: 31, excludingJob: 5) == ["pexels:clip:1", "pexels:image:2"])
    }

    /// A video's footage is recorded in one write transaction, however many files it names (a long
    /// video from a media library names dozens). Counted twice: by SQLite's own write-ahead log
    /// (its commit frames, read from the file as SQLite's file format defines them, so not by
    /// ytauto's code) and by ytauto's change word, which every write transaction moves.
    @Test func aVideosFootageIsRecordedInOneWriteOnSQLite() async throws {
        let dir = TempDir("ytauto-footage")
        let s = try SQLiteJobStore(path: dir.path("f.db"))
        let keys = (1...40).map { "library:clip:scene\($0).mp4" }
        let wal = dir.path("f.db-wal")
        let walBefore = try Data(contentsOf: URL(fileURLWithPath: wal))
        let before = s.changeSequence
        try await s.recordFootage(channel: "facts", job: 1, keys: keys + keys.prefix(5))
        let commits = try Self.commitFrames(wal, after: walBefore)
        #expect(commits == 1)
        #expect(s.changeSequence == before + 1)
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 2) == Set(keys))
    }

    /// The commit frames SQLite wrote to a write-ahead log since it was `earlier`: the format
    /// (sqlite.org/fileformat2.html, "WAL File Format") is a 32-byte header (page size at bytes
    /// 8–11, salts at 16–23, big-endian), then frames of a 24-byte header and a page; a frame whose
    /// header's bytes 4–7 are not zero ends a transaction, and a frame belongs to the log's current
    /// generation only if its salts are the header's. A log restarted since (new salts, after a
    /// checkpoint) is counted from its start, else from where `earlier` ended.
    static func commitFrames(_ path: String, after earlier: Data) throws -> Int {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func word(_ b: [UInt8], _ at: Int) -> UInt32 { b[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        func word(_ at: Int) -> UInt32 { word(bytes, at) }
        guard bytes.count >= 32 else { return 0 }
        let frame = 24 + Int(word(8)), salts = (word(16), word(20))
        let old = [UInt8](earlier)
        let restarted = old.count < 32 || (word(old, 16), word(old, 20)) != salts
        var at = restarted ? 32 : old.count, commits = 0
        #expect((at - 32) % frame == 0, "byte \(at) is not a frame boundary of a \(frame)-byte frame log")
        while at + frame <= bytes.count, (word(at + 8), word(at + 12)) == salts {
            if word(at + 4) != 0 { commits += 1 }
            at += frame
        }
        return commits
    }

    /// A claim is one write that another job of the channel cannot win within the window.
    @Test(arguments: StoreEngine.all) func aClaimIsRefusedToAnotherJobWithinTheWindow(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        #expect(try await s.claimFootage(channel: "facts", job: 1, key: "pexels:clip:1", days: 30))
        #expect(try await s.claimFootage(channel: "facts", job: 2, key: "pexels:clip:1", days: 30) == false, "job 1 holds it")
        #expect(try await s.claimFootage(channel: "facts", job: 1, key: "pexels:clip:1", days: 30), "its own again (a retry)")
        #expect(try await s.claimFootage(channel: "horror", job: 2, key: "pexels:clip:1", days: 30), "another channel's ledger")
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 2) == ["pexels:clip:1"])
        f.clock.advance(30 * 86_400 + 1)
        #expect(try await s.claimFootage(channel: "facts", job: 2, key: "pexels:clip:1", days: 30), "older than the window")
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 1) == ["pexels:clip:1"])
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 2).isEmpty, "it is job 2's now")
        #expect(try await s.claimFootage(channel: "facts", job: 3, key: "pexels:clip:1", days: 0), "0 days: always")
    }

    /// A job that failed or was cancelled published nothing: its footage is free for the channel's
    /// other jobs at once, not barred for the window.
    @Test(arguments: StoreEngine.all) func aFailedOrCancelledJobsFootageIsFreeAgain(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let failed = try await s.enqueue(NewJob(channel: "facts", topic: "a")).job.id
        let cancelled = try await s.enqueue(NewJob(channel: "facts", topic: "b")).job.id
        let running = try await s.enqueue(NewJob(channel: "facts", topic: "c")).job.id
        for (job, key) in [(failed, "pexels:clip:1"), (cancelled, "pexels:clip:2"), (running, "pexels:clip:3")] {
            #expect(try await s.claimFootage(channel: "facts", job: job, key: key, days: 30))
        }
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 99) == ["pexels:clip:1", "pexels:clip:2", "pexels:clip:3"])
        let lease = try #require(try await s.lease(worker: "w", channels: nil, duration: .seconds(30)))
        #expect(lease.jobID == failed)
        _ = try await s.fail(lease, error: JobFailure(code: "llm.auth", message: "401", isRetryable: false))
        #expect(try await s.cancel(jobID: cancelled) == .cancelled)
        #expect(try await s.job(id: failed)?.state == .failed)
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 99) == ["pexels:clip:3"])
        #expect(try await s.claimFootage(channel: "facts", job: 99, key: "pexels:clip:1", days: 30), "the failed job's clip")
        #expect(try await s.claimFootage(channel: "facts", job: 99, key: "pexels:clip:2", days: 30), "the cancelled job's clip")
        #expect(try await s.claimFootage(channel: "facts", job: 99, key: "pexels:clip:3", days: 30) == false, "a live job's clip")
        #expect(try await s.footageUsed(channel: "facts", days: 30, excludingJob: 5) == ["pexels:clip:1", "pexels:clip:2", "pexels:clip:3"],
                "job 99's now")
    }
}
