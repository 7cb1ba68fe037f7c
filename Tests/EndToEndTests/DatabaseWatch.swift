import Foundation
import YTAutoStore

/// Watches a database from a thread of its own, with its own read-only connection, every 10 ms,
/// until `sql` (one row; its first column read as an integer) is non-zero, then runs `action`
/// on that thread at once and returns its result; nil if `timeout` seconds pass first.
///
/// For tests that must act inside a window a worker process opens (a stage running, a job not
/// yet finished): a check on Swift's cooperative pool can be held up for seconds by the tests
/// around it on a loaded machine, and see the window late or not at all.
func watch<T: Sendable>(_ dbPath: String, until sql: String, _ arguments: [any SQLBindable] = [], timeout: Double,
                        then action: @escaping @Sendable () throws -> T) async throws -> T? {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do {
                var options = Connection.Options()
                options.readOnly = true
                let deadline = Date().addingTimeInterval(timeout)
                var db: Connection?
                while Date() < deadline {
                    // The file may not exist yet (the worker creates it); open once it does.
                    if db == nil, FileManager.default.fileExists(atPath: dbPath) { db = try? Connection(path: dbPath, options: options) }
                    if let db, let row = try? db.queryOne(sql, arguments), case .integer(let value)? = row.values.first, value != 0 {
                        continuation.resume(returning: try action())
                        return
                    }
                    usleep(10_000)
                }
                continuation.resume(returning: nil)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
