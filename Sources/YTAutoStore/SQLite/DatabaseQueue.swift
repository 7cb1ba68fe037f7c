import CSQLite
import Dispatch
import Foundation
import Synchronization
import YTAutoCore

/// Owns one ``Connection`` and runs every use of it under its lock: on the caller's thread
/// when that is this file's ``DatabaseThread``, and otherwise on a serial dispatch queue of its own.
///
/// SQLite calls block (on disk, on another process's lock, for seconds at worst). Running
/// them on this queue's thread rather than in a Swift task keeps the cooperative thread
/// pool free; callers `await` the result. A caller already on the file's ``DatabaseThread``
/// (a thread that exists to block) skips the hop to the queue and back, which is most of the
/// cost of a short transaction; another file's thread hops, so that waiting for this file's
/// lock never holds up that file's callers. The lock promises no order between the two
/// paths: a caller on the thread writing back to back may go ahead of one queued meanwhile
/// (a worker's writes come between stages, so this does not show outside a benchmark).
/// `@unchecked Sendable` is safe because the connection is only ever touched under `lock`.
public final class DatabaseQueue: @unchecked Sendable {
    private let queue: DispatchQueue
    private let lock = NSLock()
    private let connection: Connection
    public let path: String
    /// The thread on which callers of this file's database may run its transactions directly
    /// (started on first use). Found by the key made once at `init`: a worker asks for it on
    /// every completion, and standardizing the path each time cost about 1 % of its time.
    public var thread: DatabaseThread { DatabaseThread.named(threadKey) }
    private let threadKey: String

    /// Whether the connection was opened read-only.
    public let isReadOnly: Bool

    /// The file's shared wake words; only atomics and futex calls, so usable from any thread.
    private let wake: WriteWake?

    public init(path: String, options: Connection.Options = .init()) throws {
        self.path = path
        self.isReadOnly = options.readOnly
        self.threadKey = DatabaseThread.key(forDatabase: path)
        self.queue = DispatchQueue(label: "ytauto.sqlite.\(URL(fileURLWithPath: path).lastPathComponent)")
        self.connection = try Connection(path: path, options: options)
        self.wake = connection.wake
    }

    /// Tells the idle workers on this file, in every process, that a job may have become
    /// leasable. Call it after the transaction that made it so has committed.
    public func signalWork() { wake?.signalWork() }

    /// The work signal's sequence: read it before looking for work, pass it to ``waitForWork(seen:timeout:)``.
    public var workSequence: UInt32 { wake?.workValue ?? 0 }

    /// Blocks the calling thread until ``signalWork()`` is called in any process after `seen`
    /// was read, or `timeout` passes. Only for a thread that exists to block (never a
    /// cooperative one). Without the shared file, it just sleeps the timeout.
    public func waitForWork(seen: UInt32, timeout: Duration) {
        let ns = UInt64(max(0, timeout.seconds) * 1e9)
        if let wake { wake.waitWork(seen: seen, nanoseconds: ns) } else { usleep(UInt32(min(ns / 1000, 1_000_000))) }
    }

    /// The change word: moves with every write transaction of ytauto on this file, in any process.
    public var changeSequence: UInt32 { wake?.changeValue ?? 0 }

    /// Blocks the calling thread until a write transaction ends in any process after `seen` was
    /// read, or `timeout` passes. Only for a thread that exists to block.
    public func waitForChange(seen: UInt32, timeout: Duration) {
        let ns = UInt64(max(0, timeout.seconds) * 1e9)
        if let wake { wake.waitChange(seen: seen, nanoseconds: ns) } else { usleep(UInt32(min(ns / 1000, 1_000_000))) }
    }

    /// Runs `body` in a read transaction.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await run { try $0.readTransaction(body) }
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction
    /// (`waitingTurn`, `wakes`: see ``Connection/writeTransaction(waitingTurn:wakes:_:)``).
    ///
    /// From this file's ``DatabaseThread``, writes that are asked for together share one
    /// transaction (group commit): a worker's slots that finish at the same moment complete and
    /// lease in one commit, so the pages they both change (the counts row, the indexes' last
    /// leaves) go to the WAL once and the write lock changes hands once. Each `body` keeps its own
    /// outcome: when one throws, the group rolls back and each runs again alone, so a refused
    /// write undoes only itself and gets its own error while the others commit (see ``WriteBatch``).
    @discardableResult
    public func write<T: Sendable>(
        waitingTurn: Bool = false, wakes: Bool = true, _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        guard isOnThread else {
            return try await run { try $0.writeTransaction(waitingTurn: waitingTurn, wakes: wakes, body) }
        }
        let box = WriteBatch.Box<T>()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let entry = WriteBatch.Entry(waitingTurn: waitingTurn, wakes: wakes, continuation: continuation) { db in
                box.value = try body(db)
            }
            let first = pending.withLock { batch -> Bool in
                batch.entries.append(entry)
                defer { batch.scheduled = true }
                return !batch.scheduled
            }
            // The batch runs once the writes that are ready on the thread now have joined it:
            // this task goes to the back of the thread's queue, behind them.
            if first { Task(executorPreference: thread) { self.flush() } }
        }
        guard let value = box.value else {
            throw SQLiteError(extendedCode: SQLITE_INTERNAL, message: "a grouped write ended without its result", path: path)
        }
        return value
    }

    /// The writes waiting for the next group commit (``write(waitingTurn:wakes:_:)``).
    private let pending = Mutex(WriteBatch())

    /// Runs the waiting writes in one transaction and resumes each with its own outcome.
    private func flush() {
        let entries = pending.withLock { batch in
            defer { batch = WriteBatch() }
            return batch.entries
        }
        let failures: [(any Error)?]
        do {
            failures = try lock.withLock { try WriteBatch.run(entries, on: open()) }
        } catch {
            failures = Array(repeating: error, count: entries.count)
        }
        for (entry, failure) in zip(entries, failures) {
            if let failure { entry.continuation.resume(throwing: failure) } else { entry.continuation.resume() }
        }
    }

    /// Whether the caller runs on this file's ``DatabaseThread``.
    private var isOnThread: Bool { DatabaseThread.isCurrent(key: threadKey) }

    private func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        if isOnThread {
            return try lock.withLock { try body(open()) }
        }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.lock.withLock { try body(self.open()) } })
            }
        }
    }

    /// Runs `body` on the connection's queue and blocks the caller until it is done.
    /// For setup and tools; never call it from inside another `DatabaseQueue` body.
    public func sync<T>(_ body: (Connection) throws -> T) throws -> T {
        try queue.sync { try lock.withLock { try body(open()) } }
    }

    /// Whether ``close()`` was called; read and written under `lock`.
    private var closed = false

    /// The connection, unless it was closed. Called under `lock`.
    private func open() throws -> Connection {
        if closed { throw SQLiteError(extendedCode: SQLITE_MISUSE, message: "the database connection was closed (the process is ending)", path: path) }
        return connection
    }

    /// Closes the connection, waiting for a use of it that is under way; every later use throws.
    /// A command that ends calls it (``SQLiteJobStore/close()``), so that its writes are folded
    /// from the `-wal` into the file when it is the file's last connection: a process that exits
    /// holding one open leaves them in the `-wal`, which a read-only command on a full disk then
    /// cannot read.
    public func close() {
        lock.withLock {
            closed = true
            connection.close()
        }
    }
}
