import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

#if canImport(Glibc)
import Glibc
#endif

@Suite struct DatabaseThreadTests {
    @Test func oneThreadPerDatabaseFile() {
        let dir = TempDir()
        let a = DatabaseThread.forDatabase(at: dir.path("a.db"))
        #expect(DatabaseThread.forDatabase(at: dir.path("./a.db")) === a)
        #expect(DatabaseThread.forDatabase(at: dir.path("b.db")) !== a)
    }

    @Test func aCallerOnTheDatabaseThreadRunsItsTransactionsThereAndOthersGoToTheQueue() async throws {
        let dir = TempDir()
        let queue = try DatabaseQueue(path: dir.path("a.db"))
        try await queue.write { try $0.execute("CREATE TABLE t (x INTEGER)") }

        #expect(DatabaseThread.current == nil)
        // From the cooperative pool the body runs on the queue's thread, not on a database thread.
        let fromPool = try await queue.write { db in
            try db.run("INSERT INTO t VALUES (1)")
            return DatabaseThread.current == nil
        }
        #expect(fromPool)

        try await withTaskExecutorPreference(queue.thread) {
            #expect(DatabaseThread.current === queue.thread)
            let caller = pthread_self()
            let sameThread = try await queue.write { db in
                try db.run("INSERT INTO t VALUES (2)")
                return pthread_equal(pthread_self(), caller) != 0
            }
            #expect(sameThread, "the write ran on the caller's database thread")
            let readThere = try await queue.read { db in
                (try db.queryOne("SELECT count(*) AS n FROM t")?.int("n"), pthread_equal(pthread_self(), caller) != 0)
            }
            #expect(readThere.0 == 2 && readThere.1)
            // Unstructured tasks given the preference (as QueueWorker's are) run there too.
            let task = Task(executorPreference: queue.thread) { DatabaseThread.current === queue.thread }
            #expect(await task.value)
            // Another file's store, called from this thread, hops to its own queue: waiting for
            // that file's lock must not hold up this file's callers.
            let other = try DatabaseQueue(path: dir.path("b.db"))
            let otherRanHere = try await other.write { db in
                try db.execute("CREATE TABLE u (x INTEGER)")
                return pthread_equal(pthread_self(), caller) != 0
            }
            #expect(!otherRanHere)
        }
    }

    /// The reason the thread exists: writes started there that wait for another process's lock
    /// wait on it (one inside SQLite, the rest queued behind it), not on Swift's cooperative
    /// pool, whose tasks still run to the end meanwhile. Had the writes run on pool threads
    /// (more of them than the pool has threads), they would hold every pool thread until the
    /// lock came free (here after 20 s at the latest), and the tasks with them. (The queue's
    /// own dispatch path leaves the pool free too; the test above shows the thread's callers
    /// do not take it.)
    @Test func writesWaitingForALockOnTheDatabaseThreadLeaveTheCooperativePoolFree() async throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        let setup = try DatabaseQueue(path: path)
        try await setup.write { try $0.execute("CREATE TABLE t (x INTEGER)") }

        // Another process's write transaction, held from a plain thread until the pool's tasks
        // are done or 20 s have passed.
        let holder = Holder(try Connection(path: path))
        try holder.connection.execute("BEGIN IMMEDIATE")
        let released = Released()
        let poolDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = poolDone.wait(timeout: .now() + 20)
            released.mark()
            try? holder.connection.execute("COMMIT")
        }

        var patient = Connection.Options()
        patient.busyTimeout = .seconds(60)
        patient.transactionRetryBound = .seconds(60)
        let writers = ProcessInfo.processInfo.activeProcessorCount + 2
        let queues = try (0..<writers).map { _ in try DatabaseQueue(path: path, options: patient) }
        let waiting = queues.enumerated().map { i, queue in
            Task(executorPreference: setup.thread) {
                try await queue.write { db in try db.run("INSERT INTO t VALUES (?)", [Int64(i)]) }
            }
        }
        // The first writer was refused and waits for the lock (asleep in its busy handler), the
        // rest behind it on the thread, before the pool is given its work: the test is about
        // tasks running while they wait.
        let probe = try #require(WriteWake(databasePath: path))
        #expect(await eventually(timeout: .seconds(15)) { probe.sleepers >= 1 })

        let ran = await withTaskGroup(of: Int.self) { group in
            for i in 0..<(writers * 4) { group.addTask { (0..<10_000).reduce(i, &+) & 1 } }
            return await group.reduce(0) { n, _ in n + 1 }
        }
        #expect(ran == writers * 4)
        #expect(!released.happened, "the pool's tasks finished while the writes still waited for the lock")
        poolDone.signal()

        for task in waiting { _ = try await task.value }
        let rows = try await setup.read { try $0.queryOne("SELECT count(*) AS n FROM t")?.int("n") }
        #expect(rows == Int64(writers))
    }
}

private final class Holder: @unchecked Sendable {
    let connection: Connection
    init(_ connection: Connection) { self.connection = connection }
}

private final class Released: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func mark() { lock.withLock { flag = true } }
    var happened: Bool { lock.withLock { flag } }
}
