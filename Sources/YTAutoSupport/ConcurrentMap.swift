import Foundation

/// Runs `body` over `items` with at most `width` at once, keeping the order of results.
///
/// When one item fails, no new item starts, but those already running finish (and keep their
/// files), so a retry reuses them; then the first error is thrown. Cancelling the calling task
/// still cancels every item.
public func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], width: Int, _ body: @escaping @Sendable (Int, T) async throws -> R) async throws -> [R] {
    try await withThrowingTaskGroup(of: (Int, Result<R, any Error>).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        var firstError: (any Error)?
        func add() {
            guard next < items.count, firstError == nil else { return }
            let i = next, item = items[i]
            group.addTask {
                do { return (i, .success(try await body(i, item))) } catch { return (i, .failure(error)) }
            }
            next += 1
        }
        for _ in 0..<max(1, width) { add() }
        while let (i, r) = try await group.next() {
            switch r {
            case .success(let value): results[i] = value
            case .failure(let error): if firstError == nil { firstError = error }
            }
            add()
        }
        if let firstError { throw firstError }
        try Task.checkCancellation()
        return results.map { $0! }
    }
}
