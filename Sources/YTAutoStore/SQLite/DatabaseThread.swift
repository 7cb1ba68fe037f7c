import Foundation
import YTAutoCore

/// A database file's ``DedicatedThread``: the thread on which callers of that file's
/// ``DatabaseQueue`` may run its transactions directly (see ``DedicatedThread`` for why it
/// exists). One per database file, so a caller waiting for one file's lock never holds up the
/// callers of another: a worker process has one, a test process one per file it runs workers on.
public typealias DatabaseThread = DedicatedThread

extension DedicatedThread {
    /// The thread for the database file at `path`, started on first use.
    public static func forDatabase(at path: String) -> DedicatedThread { named(key(forDatabase: path)) }

    /// The name a database file's thread is registered under (its standardized path).
    static func key(forDatabase path: String) -> String { "sqlite:" + URL(fileURLWithPath: path).standardizedFileURL.path }
}
