import Foundation
import Testing
import YTAutoCore
import YTAutoStore

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
}
