import Dispatch
import Foundation

/// Owns one ``Connection`` and runs every use of it on a serial dispatch queue of its own.
///
/// SQLite calls block (on disk, on another process's lock). Running them on this queue's
/// thread rather than in a Swift task keeps the cooperative thread pool free; callers
/// `await` the result. `@unchecked Sendable` is safe because the connection is only ever
/// touched from `queue`.
public final class DatabaseQueue: @unchecked Sendable {
    private let queue: DispatchQueue
    private let connection: Connection
    public let path: String

    public init(path: String, options: Connection.Options = .init()) throws {
        self.path = path
        self.queue = DispatchQueue(label: "ytauto.sqlite.\(URL(fileURLWithPath: path).lastPathComponent)")
        self.connection = try Connection(path: path, options: options)
    }

    /// Runs `body` on the connection's queue.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.connection.readTransaction(body) })
            }
        }
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction on the connection's queue
    /// (`waitingTurn`, `wakes`: see ``Connection/writeTransaction(waitingTurn:wakes:_:)``).
    @discardableResult
    public func write<T: Sendable>(
        waitingTurn: Bool = false, wakes: Bool = true, _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.connection.writeTransaction(waitingTurn: waitingTurn, wakes: wakes, body) })
            }
        }
    }

    /// Runs `body` on the connection's queue and blocks the caller until it is done.
    /// For setup and tools; never call it from inside another `DatabaseQueue` body.
    public func sync<T>(_ body: (Connection) throws -> T) throws -> T {
        try queue.sync { try body(connection) }
    }
}
