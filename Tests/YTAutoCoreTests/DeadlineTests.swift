import Foundation
import Synchronization
import Testing
import YTAutoCore

/// A call raced against a deadline (the PostgreSQL store's statements, the worker's heartbeats).
@Suite struct DeadlineTests {
    struct Refused: Error, Equatable {}

    @Test func anAnswerBeforeTheDeadlineIsReturnedAsItCame() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        guard case .finished(.success(42)) = await Deadline.race(until: deadline, { 42 }) else {
            Issue.record("the answer was not returned")
            return
        }
        guard case .finished(.failure(let error)) = await Deadline.race(until: deadline, { () throws -> Int in throw Refused() }) else {
            Issue.record("the error was not returned")
            return
        }
        #expect(error as? Refused == Refused())
    }

    @Test func aCallThatHangsIsLeftAtTheDeadlineAndCancelled() async throws {
        let cancelled = Mutex(false)
        let start = ContinuousClock.now
        let outcome = await Deadline.race(until: start + .milliseconds(200)) { () async throws -> Int in
            do { try await Task.sleep(for: .seconds(60)) } catch { cancelled.withLock { $0 = true }; throw error }
            return 1
        }
        guard case .passed = outcome else {
            Issue.record("a hung call was waited for: \(outcome)")
            return
        }
        #expect(ContinuousClock.now - start < .seconds(30))
        let sawCancel = await { () async -> Bool in
            for _ in 0..<500 { if cancelled.withLock({ $0 }) { return true }; try? await Task.sleep(for: .milliseconds(10)) }
            return false
        }()
        #expect(sawCancel, "the hung call was not cancelled")
    }
}
