import Foundation
import Testing
import YTAutoTestSupport

/// Expectations made on a thread of its own (``blocking(_:)``): Swift Testing attributes an
/// `#expect` to the test whose task made it, and a plain thread belongs to no test, so a failure
/// there would fail the run while the test itself showed passed. These are collected there and
/// recorded by the test's own task when the blocking work returns (or throws).
final class BlockingChecks: @unchecked Sendable {
    // `@unchecked` is safe: `failures` is only touched under `lock`.
    private let lock = NSLock()
    private var failures: [(String, SourceLocation)] = []

    /// Records a failure unless `condition` holds.
    func expect(_ condition: Bool, _ message: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        guard !condition else { return }
        let text = message()
        lock.withLock { failures.append((text.isEmpty ? "expectation failed" : text, sourceLocation)) }
    }

    fileprivate func record() {
        for (message, location) in lock.withLock({ failures }) { Issue.record(Comment(rawValue: message), sourceLocation: location) }
    }
}

/// ``blocking(_:)`` with expectations that count for the calling test.
func blocking<T: Sendable>(checking body: @escaping @Sendable (BlockingChecks) throws -> T) async throws -> T {
    let checks = BlockingChecks()
    defer { checks.record() }
    return try await blocking { try body(checks) }
}
