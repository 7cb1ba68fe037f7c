import Synchronization
import YTAutoCore

/// The completions of one ``PostgresJobStore`` waiting to share a statement: PostgreSQL's group
/// commit, as `WriteBatch` is SQLite's.
///
/// A worker runs its slots' bookkeeping on the store's ``DedicatedThread`` (one a database in a
/// process, shared by its stores and workers). A completion that
/// also leases the next job (``PostgresJobStore/complete(_:thenLease:)``) asked for there joins
/// the waiting ones; the first to join sends a flush to the back of the thread's queue, so
/// every completion ready on the thread by then goes in the same statement. One statement
/// completes them all (each fenced on its own row), ends their attempts, and leases as many
/// jobs as completions held: one round trip, one commit, one run of the statement triggers
/// (the job counts, the wake-up) for the group. A lone completion waits for nothing but the
/// thread's queue.
final class CompletionGroups: Sendable {
    /// One completion: its lease, the request for its slot's next job, and who waits for it.
    struct Entry: Sendable {
        let lease: Lease
        let next: LeaseRequest
        let continuation: CheckedContinuation<Completion, any Error>
    }

    /// The key of the thread (``DedicatedThread/named(_:)``), started when a worker first asks
    /// for it: a store that never runs a worker (a command, the console) starts no thread.
    let threadKey: String
    private let waiting = Mutex<[Entry]>([])

    init(threadKey: String) {
        self.threadKey = threadKey
    }

    var thread: DedicatedThread { DedicatedThread.named(threadKey) }

    /// Whether the caller runs on the thread (without starting it).
    var isOnThread: Bool { DedicatedThread.isCurrent(key: threadKey) }

    /// Adds `entry`; true when it is the first to wait (its caller sends the flush).
    func add(_ entry: Entry) -> Bool {
        waiting.withLock { entries in
            entries.append(entry)
            return entries.count == 1
        }
    }

    /// Takes every waiting completion, grouped by request (a statement leases for one request),
    /// in the order they came.
    func take() -> [[Entry]] {
        let entries = waiting.withLock { entries in
            defer { entries.removeAll() }
            return entries
        }
        var groups: [[Entry]] = []
        var index: [LeaseRequest: Int] = [:]
        for entry in entries {
            if let i = index[entry.next] {
                groups[i].append(entry)
            } else {
                index[entry.next] = groups.count
                groups.append([entry])
            }
        }
        return groups
    }
}
