import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// The model-based test's own test: a store with a planted bug is caught, and the run shrinks to
/// the few steps that show it.
@Suite struct QueueModelSelfTests {
    @Test func aPlantedBugIsFoundAndShrunk() async throws {
        let broken: QueueEngineFactory = { clock, policy in
            var engine = try await QueueModelTests.sqlite(clock, policy)
            engine.store = BrokenPruneStore(base: engine.store as! SQLiteJobStore)
            return engine
        }
        // A fixed seed: this test is about the checker, so it should find the same thing every time.
        let seed: UInt64 = 14
        let report = try #require(await QueueModelTests.check(broken, name: "BrokenPruneStore", seed: seed, runs: 50, steps: 50))
        print(report)
        #expect(report.contains("YTAUTO_MODEL_SEED=\(seed)"))
        // Three steps can show it (enqueue, cancel, prune); a few more if the job must finish by a
        // lease or the clock must move. Delta debugging leaves no step that can be dropped.
        let length = try #require(report.firstMatch(of: /minimal sequence \((\d+) steps\)/).flatMap { Int($0.1) })
        #expect(length <= 6, "\(report)")
        #expect(report.contains("prune"))
    }
}
