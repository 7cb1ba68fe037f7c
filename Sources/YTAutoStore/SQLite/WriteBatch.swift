import CSQLite

/// The writes that one group commit runs together (``DatabaseQueue/write(waitingTurn:wakes:_:)``).
///
/// One write alone runs exactly as ``Connection/writeTransaction(waitingTurn:wakes:_:)`` runs
/// it. Several run one after another in one `BEGIN IMMEDIATE` transaction:
/// - when all of them succeed, they commit together;
/// - when one throws (a lease lost, a constraint), the transaction rolls back and each runs
///   again alone, in its own transaction, so each gets its own outcome and a refused write
///   never undoes another (a refusal is rare: the common path pays for no savepoints);
/// - an error that belongs to the whole transaction reaches every one of them, nothing of any
///   written: the database busy past its bound, a full disk, an I/O error, corruption. Busy
///   within the bound runs the whole group again, as it runs one write again;
/// - a `COMMIT` that fails likewise reaches every one.
///
/// The group waits its turn only when every write in it would (leases alone): a job's own write
/// (a checkpoint, a failure) never waits a turn, grouped or not. It wakes a waiting process when
/// any of its writes would.
struct WriteBatch {
    var entries: [Entry] = []
    /// Whether a flush is on its way for `entries`.
    var scheduled = false

    /// One write: its body (which stores its own result), its options, and who waits for it.
    /// `@unchecked Sendable`: made on the database thread and run under the queue's lock.
    final class Entry: @unchecked Sendable {
        let waitingTurn: Bool
        let wakes: Bool
        let continuation: CheckedContinuation<Void, any Error>
        let body: (Connection) throws -> Void

        init(waitingTurn: Bool, wakes: Bool, continuation: CheckedContinuation<Void, any Error>, body: @escaping (Connection) throws -> Void) {
            self.waitingTurn = waitingTurn
            self.wakes = wakes
            self.continuation = continuation
            self.body = body
        }
    }

    /// A write's result, set by its body, read by the writer once the batch has committed.
    /// `@unchecked Sendable`: written under the queue's lock before the writer is resumed.
    final class Box<T>: @unchecked Sendable {
        var value: T?
    }

    /// Runs `entries` in one write transaction; returns each one's own failure (`nil`: committed).
    /// Throws what failed the whole transaction.
    static func run(_ entries: [Entry], on db: Connection) throws -> [(any Error)?] {
        if entries.count > 1 {
            do {
                try db.writeTransaction(waitingTurn: entries.allSatisfy { $0.waitingTurn }, wakes: entries.contains { $0.wakes }) { db in
                    for entry in entries { try entry.body(db) }
                }
                return Array(repeating: nil, count: entries.count)
            } catch where (error as? SQLiteError)?.failsTheWholeTransaction != true {
                // One of them was refused (its fence, a constraint): the transaction rolled back,
                // nothing of the group is written. Each runs again alone, for its own outcome.
            }
        }
        return entries.map { entry in
            do {
                try db.writeTransaction(waitingTurn: entry.waitingTurn, wakes: entry.wakes) { db in try entry.body(db) }
                return nil
            } catch {
                return error
            }
        }
    }
}
