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

    /// A call that answers after the deadline hands its value to `discarded` (a PostgreSQL
    /// connection must be closed, not dropped); one that answers in time does not.
    @Test func aValueThatCameAfterTheDeadlineIsHandedToDiscarded() async throws {
        let late = Mutex<[Int]>([])
        let outcome = await Deadline.race(until: .now + .milliseconds(50), { () async throws -> Int in
            try? await Task.sleep(for: .milliseconds(300))  // not cancelled by the deadline's cancel: it ends on its own
            return 7
        }, discarded: { value in late.withLock { $0.append(value) } })
        guard case .passed = outcome else {
            Issue.record("the deadline did not pass first: \(outcome)")
            return
        }
        let handed = await { () async -> Bool in
            for _ in 0..<500 { if late.withLock({ $0 }) == [7] { return true }; try? await Task.sleep(for: .milliseconds(10)) }
            return false
        }()
        #expect(handed, "the late value was dropped: \(late.withLock { $0 })")
        guard case .finished(.success(3)) = await Deadline.race(until: .now + .seconds(30), { 3 }, discarded: { value in late.withLock { $0.append(value) } }) else {
            Issue.record("the answer was not returned")
            return
        }
        #expect(late.withLock { $0 } == [7])
    }
}
