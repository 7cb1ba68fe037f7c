import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Swift task executor with one dedicated thread of its own, on which a store runs its
/// bookkeeping: on SQLite a file's ``DatabaseQueue`` runs its SQLite calls there directly
/// (`DatabaseThread`, in YTAutoStore), on PostgreSQL the completions that lease the next job,
/// asked for together there, share one statement (`CompletionGroups`, in YTAutoPostgres).
///
/// Every SQLite call made from the cooperative pool goes to the queue's own
/// thread and its result comes back: two thread wake-ups per transaction. For a worker,
/// whose bookkeeping is nothing but short transactions one after another, those hops were
/// most of the cost: with them the queue ran at half of raw CSQLite's rate on one process
/// (`ytauto-bench queue`; `strace -c` counted 3.6 futex calls per transaction, raw none).
/// Running the transaction on the caller's cooperative thread removes them, but a blocked
/// SQLite call (another process's lock, a slow `fsync`) then stalls the cooperative pool,
/// which has one thread per core: with disk writes throttled that stalled a whole test
/// process for seconds. A SQLite file's thread may block, because it serves nothing but that
/// file's callers. A PostgreSQL database's thread is shared by every store and worker of the
/// process on that database, heartbeats included, and the store never blocks it (postgres-nio
/// is asynchronous); what may block for long (a file on a shared mount) runs elsewhere.
///
/// Use: run the code that talks to a store under
/// `withTaskExecutorPreference(store.bookkeepingExecutor) { … }` (`QueueWorker` runs its leasing,
/// checkpoints and heartbeats so; the stages' own work goes back to the global executor).
/// Tasks on it that wake each other (actor hops, continuations) stay on the thread and cost
/// no system call; only work arriving from other threads signals it. Jobs run in the order
/// they arrive, so a task enqueued now runs after those already waiting: the group commits
/// rely on that to let the writes that are ready join before they run.
///
/// There is one per key (``named(_:)``), and each lives as long as the process.
public final class DedicatedThread: TaskExecutor, @unchecked Sendable {
    /// The thread registered under `key`, started on first use.
    public static func named(_ key: String) -> DedicatedThread {
        registry.withLock { threads in
            if let thread = threads[key] { return thread }
            let thread = DedicatedThread(key: key)
            threads[key] = thread
            return thread
        }
    }

    private static let registry = Mutex<[String: DedicatedThread]>([:])

    /// What this thread serves (``named(_:)``): for SQLite, a database file.
    public let key: String

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [UnownedJob] = []
    private var sleeping = false

    private init(key: String) {
        self.key = key
        // Never ends: the registry keeps every instance, so `unowned` holds.
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "ytauto-bookkeeping"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The ``DedicatedThread`` the caller runs on, if any.
    public static var current: DedicatedThread? {
        pthread_getspecific(currentKey).map { Unmanaged<DedicatedThread>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Whether the caller runs on the thread registered under `key` (without starting it).
    public static func isCurrent(key: String) -> Bool { current?.key == key }

    /// The pthread key under which each thread records itself (``current``).
    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        // From its own thread (the common case: a task resuming another) nobody needs waking.
        if sleeping { condition.signal() }
        condition.unlock()
    }

    private func loop() {
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        let me = asUnownedTaskExecutor()
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty {
                sleeping = true
                condition.wait()
                sleeping = false
            }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: me) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
