import CSQLite
import Foundation
import Synchronization
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// Writes asked for together on a file's database thread share one transaction (group commit),
/// and each still succeeds or fails on its own (``WriteBatch``).
@Suite struct GroupCommitTests {
    struct Refused: Error, Equatable { let n: Int }

    /// A queue on a fresh file with a table `t (x INTEGER UNIQUE)`.
    func queue(_ dir: TempDir) async throws -> DatabaseQueue {
        let queue = try DatabaseQueue(path: dir.path("a.db"))
        try await queue.write { try $0.execute("CREATE TABLE t (x INTEGER UNIQUE)") }
        return queue
    }

    func rows(_ queue: DatabaseQueue) async throws -> [Int64] {
        try await queue.read { db in try db.query("SELECT x FROM t ORDER BY x").compactMap { $0.int("x") } }
    }

    /// Runs `bodies` as writes started together on the thread; returns each one's outcome and how
    /// many write transactions they took (the file's change word moves once for each).
    func together(
        _ queue: DatabaseQueue, _ bodies: [@Sendable (Connection) throws -> String]
    ) async -> (outcomes: [Result<String, any Error>], commits: UInt32) {
        await withTaskExecutorPreference(queue.thread) {
            let before = queue.changeSequence
            let outcomes = await withTaskGroup(of: (Int, Result<String, any Error>).self) { group in
                for (i, body) in bodies.enumerated() {
                    group.addTask { (i, await Result { try await queue.write(body) }) }
                }
                var all: [(Int, Result<String, any Error>)] = []
                for await r in group { all.append(r) }
                return all.sorted { $0.0 < $1.0 }.map(\.1)
            }
            return (outcomes, queue.changeSequence &- before)
        }
    }

    @Test func writesAskedForTogetherOnTheThreadShareOneCommit() async throws {
        let dir = TempDir()
        let queue = try await queue(dir)
        let (outcomes, commits) = await together(queue, (0..<8).map { i in
            { db in try db.run("INSERT INTO t VALUES (?)", [Int64(i)]); return "w\(i)" }
        })
        #expect(outcomes.map { try? $0.get() } == (0..<8).map { "w\($0)" })
        #expect(commits == 1, "8 writes asked for together took \(commits) transactions")
        #expect(try await rows(queue) == Array(0..<8))

        // One write alone is its own transaction, as before.
        let (alone, oneCommit) = await together(queue, [{ db in try db.run("INSERT INTO t VALUES (8)"); return "alone" }])
        #expect((try? alone[0].get()) == "alone" && oneCommit == 1)
    }

    /// A write that throws (a lease lost, a constraint) undoes only what it wrote, and only it
    /// gets the error; the others in its group commit (each alone, once the group rolled back).
    @Test func aWriteThatThrowsUndoesOnlyItsOwnWrites() async throws {
        let dir = TempDir()
        let queue = try await queue(dir)
        let (outcomes, commits) = await together(queue, [
            { db in try db.run("INSERT INTO t VALUES (1)"); return "a" },
            { db in try db.run("INSERT INTO t VALUES (2)"); throw Refused(n: 2) },
            { db in try db.run("INSERT INTO t VALUES (3)"); try db.run("INSERT INTO t VALUES (1)"); return "duplicate" },
            { db in try db.run("INSERT INTO t VALUES (4)"); return "d" },
        ])
        #expect((try? outcomes[0].get()) == "a")
        #expect(throws: Refused(n: 2)) { try outcomes[1].get() }
        #expect(throws: SQLiteError.self) { try outcomes[2].get() }
        #expect((try? outcomes[3].get()) == "d")
        #expect(commits == 5, "the group, rolled back, then each of the four alone")
        #expect(try await rows(queue) == [1, 4], "the refused writes' rows (2, and 3 before its duplicate) are gone")
    }

    /// An error of the database itself (here an I/O error; a full disk, corruption, busy likewise)
    /// fails every write of the group, and nothing of any of them is written.
    @Test func anErrorOfTheDatabaseFailsTheWholeGroup() async throws {
        let dir = TempDir()
        let queue = try await queue(dir)
        let ioError = SQLiteError(extendedCode: SQLITE_IOERR | (3 << 8)  /* SQLITE_IOERR_WRITE */, message: "disk I/O error", path: queue.path)
        let (outcomes, _) = await together(queue, [
            { db in try db.run("INSERT INTO t VALUES (1)"); return "a" },
            { db in try db.run("INSERT INTO t VALUES (2)"); throw ioError },
            { db in try db.run("INSERT INTO t VALUES (3)"); return "c" },
        ])
        for outcome in outcomes {
            #expect(throws: ioError) { try outcome.get() }
        }
        #expect(try await rows(queue) == [])
    }

    /// The database busy in one write (a lock another process holds) rolls the whole group back
    /// and runs it again, as one write alone is run again: each write's rows end up there once,
    /// and a failure of the first run does not stick to the second.
    @Test func aBusyDatabaseRunsTheWholeGroupAgain() async throws {
        let dir = TempDir()
        let queue = try await queue(dir)
        let runs = Mutex(0)
        let (outcomes, commits) = await together(queue, [
            { db in try db.run("INSERT INTO t VALUES (1)"); return "a" },
            { db in
                try db.run("INSERT INTO t VALUES (2)")
                if runs.withLock({ n in n += 1; return n }) == 1 {
                    throw SQLiteError(extendedCode: SQLITE_BUSY, message: "database is locked", path: queue.path)
                }
                return "b"
            },
            { db in try db.run("INSERT INTO t VALUES (3)"); return "c" },
        ])
        #expect(outcomes.map { try? $0.get() } == ["a", "b", "c"])
        #expect(runs.withLock { $0 } == 2)
        #expect(commits == 2, "the rolled-back run and the committed one")
        #expect(try await rows(queue) == [1, 2, 3])
    }

    /// The worker's case: two slots complete at the same moment, one of them with a lease another
    /// worker has taken over. The fence refuses that one alone; the other job succeeds.
    @Test func twoSlotsCompletingTogetherAreFencedEachOnItsOwn() async throws {
        let dir = TempDir()
        let store = try SQLiteJobStore(path: dir.path("q.db"))
        for _ in 0..<2 { _ = try await store.enqueue(NewJob(channel: "a")) }
        let held = try #require(try await store.lease(worker: "w1", channels: nil, duration: .seconds(30)))
        let taken = try #require(try await store.lease(worker: "w1", channels: nil, duration: .seconds(30)))
        // The second job's lease passes to another worker (as after an expiry): w1's copy is stale.
        try await store.database.write { db in
            try db.run("UPDATE jobs SET lease_owner = 'w2', lease_token = lease_token + 1 WHERE id = ?", [taken.jobID])
        }
        let (first, second, commits) = try await withTaskExecutorPreference(store.database.thread) {
            let before = store.database.changeSequence
            async let a = Result { try await store.complete(held, thenLease: nil) }
            async let b = Result { try await store.complete(taken, thenLease: nil) }
            let (ra, rb) = await (a, b)
            return (try ra.get(), rb, store.database.changeSequence &- before)
        }
        #expect(first.job.state == .succeeded)
        #expect(throws: LeaseLost.self) { try second.get() }
        #expect(commits == 3, "the pair, rolled back, then each alone")
        #expect(try await store.job(id: taken.jobID)?.state == .running)
        #expect(try await store.attempts(jobID: held.jobID).map(\.outcome) == [.succeeded])
        #expect(try await store.attempts(jobID: taken.jobID).map(\.outcome) == [nil])
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
