import CSQLite
import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore
import YTAutoSupport

/// Serialized: several tests hold a write lock on purpose while writers wait on dispatch threads;
/// run together they would compete for those threads and wait on each other.
@Suite(.serialized) struct SQLiteLayerTests {
    @Test func opensWithWALNormalSyncForeignKeys() throws {
        let dir = TempDir()
        let db = try Connection(path: dir.path("a.db"))
        #expect(try db.queryOne("PRAGMA journal_mode")?.string("journal_mode") == "wal")
        #expect(try db.queryOne("PRAGMA synchronous")?.int("synchronous") == 1)
        #expect(try db.queryOne("PRAGMA foreign_keys")?.int("foreign_keys") == 1)
    }

    @Test func bindsAndReadsTypedValues() throws {
        let dir = TempDir()
        let db = try Connection(path: dir.path("a.db"))
        try db.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT, d TEXT, f INTEGER)")
        let when = Date(timeIntervalSince1970: 1_800_000_000.5)
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [Int64.max, 2.5, "héllo 'quoted'", SQLValue.blob([0, 1, 255]), String?.none, when, true])
        let row = try #require(try db.queryOne("SELECT * FROM t"))
        #expect(row["i"] == .integer(Int64.max))
        #expect(row["r"] == .real(2.5))
        #expect(row["s"] == .text("héllo 'quoted'"))
        #expect(row["b"] == .blob([0, 1, 255]))
        #expect(row["n"] == .null)
        #expect(row.date("d") == when)
        #expect(row.int("f") == 1)
        #expect(throws: SQLiteError.self) { try db.run("INSERT INTO t (i) VALUES (?)", [1, 2]) }
    }

    /// A row finds its columns through the names its statement looked up once: every row of the
    /// statement by the same names, the first of two columns with one name, `NULL` for no column.
    @Test func aRowFindsEachColumnByNameAndTheFirstOfTwoWithOneName() throws {
        let dir = TempDir()
        let db = try Connection(path: dir.path("a.db"))
        let rows = try db.query("SELECT 1 AS a, 2 AS b, 3 AS a UNION ALL SELECT 4, 5, 6")
        #expect(rows.map { $0["a"] } == [.integer(1), .integer(4)])
        #expect(rows.map { $0["b"] } == [.integer(2), .integer(5)])
        #expect(rows.map { $0[2] } == [.integer(3), .integer(6)])
        #expect(rows[0]["c"] == .null)
        #expect(rows[1].columns == ["a", "b", "a"])
        #expect(Row(names: ColumnNames(["x", "x"]), values: [.text("first"), .text("second")])["x"] == .text("first"))
    }

    @Test func errorsKeepExtendedCodeMessageAndSQL() throws {
        let dir = TempDir()
        let db = try Connection(path: dir.path("a.db"))
        try db.execute("CREATE TABLE t (k TEXT UNIQUE)")
        try db.run("INSERT INTO t VALUES ('x')")
        let error = try #require(throws: SQLiteError.self) { try db.run("INSERT INTO t VALUES ('x')") }
        #expect(error.extendedCode == 2067)  // SQLITE_CONSTRAINT_UNIQUE, a macro Swift does not import
        #expect(error.primaryCode == SQLITE_CONSTRAINT)
        #expect(error.message.contains("UNIQUE constraint failed: t.k"))
        #expect(error.sql == "INSERT INTO t VALUES ('x')")
        #expect(error.description.contains(dir.path("a.db")))
        #expect({ if case SQLITE_CONSTRAINT = error { true } else { false } }())
    }

    @Test func writeTransactionRollsBackAndRethrowsTheFirstError() throws {
        struct Boom: Error {}
        let dir = TempDir()
        let db = try Connection(path: dir.path("a.db"))
        try db.execute("CREATE TABLE t (x INTEGER)")
        #expect(throws: Boom.self) {
            try db.writeTransaction { db in
                try db.run("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.queryOne("SELECT count(*) AS n FROM t")?.int("n") == 0)
        #expect(!db.isInTransaction)
        try db.writeTransaction { db in try db.run("INSERT INTO t VALUES (2)") }
        #expect(try db.queryOne("SELECT count(*) AS n FROM t")?.int("n") == 1)
    }

    /// Another connection holds the write lock for a while; a writer waits for it instead of failing.
    @Test func busyIsRetriedWithinTheBound() async throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        let holder = try Connection(path: path)
        try holder.execute("CREATE TABLE t (x INTEGER)")
        try holder.execute("BEGIN IMMEDIATE")
        try holder.run("INSERT INTO t VALUES (1)")
        let queue = try DatabaseQueue(path: path)
        let write = Task { try await queue.write { db in try db.run("INSERT INTO t VALUES (2)") } }
        // The writer was refused and waits in its busy handler (asleep on the wake word); once
        // the lock is free it gets in, without an error.
        let probe = try #require(WriteWake(databasePath: path))
        #expect(await eventually(timeout: .seconds(60)) { probe.sleepers > 0 })
        try holder.execute("COMMIT")
        #expect(try await write.value == 1)
        #expect(try holder.queryOne("SELECT count(*) AS n FROM t")?.int("n") == 2)
    }

    /// A read-only command (`ytauto status`, `list-failed`) opened while another process holds
    /// the file against readers (SQLite's WAL recovery after a crash, or a writer in exclusive
    /// locking mode) waits for it, as every later statement does, instead of failing at once
    /// with "database is locked": the open's first read ran before the busy handler was set.
    @Test func aReaderOpenedWhileTheFileIsHeldWaitsForIt() async throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        // The holder and the reader each on a thread of their own, not the cooperative pool's
        // (two threads on this machine): under CI's load other tests' blocking work kept the
        // holder's release from running until the reader's 15 s had passed.
        let held = DispatchSemaphore(value: 0)
        let holding = Task {
            try await blocking {
                let holder = try Connection(path: path)
                defer { held.signal() }
                try holder.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
                try holder.execute("PRAGMA locking_mode=EXCLUSIVE")
                try holder.writeTransaction { db in try db.run("INSERT INTO t VALUES (2)") }
                held.signal()
                Thread.sleep(forTimeInterval: 0.4)
                // The holder closes as this returns.
            }
        }
        let read = Task {
            try await blocking { () throws -> Int64? in
                guard held.wait(timeout: .now() + 30) == .success else { return nil }
                var options = Connection.Options()
                options.readOnly = true
                return try Connection(path: path, options: options).queryOne("SELECT count(*) AS n FROM t")?.int("n")
            }
        }
        try await holding.value
        #expect(try await read.value == 2)
    }

    @Test func busyPastTheBoundIsAClearError() throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        let holder = try Connection(path: path)
        try holder.execute("CREATE TABLE t (x INTEGER)")
        try holder.execute("BEGIN IMMEDIATE")
        var options = Connection.Options()
        options.busyTimeout = .milliseconds(100)
        options.transactionRetryBound = .milliseconds(200)
        let waiter = try Connection(path: path, options: options)
        let error = try #require(throws: SQLiteError.self) {
            try waiter.writeTransaction { db in try db.run("INSERT INTO t VALUES (1)") }
        }
        #expect(error.isBusy)
        #expect(error.description.contains("database is locked"))
        try holder.execute("ROLLBACK")
    }

    /// The bounds count time with no write committing: a writer that waits behind others that keep
    /// committing waits its turn past them (up to its ceiling), where the same wait behind one
    /// holder that commits nothing is "database is locked" (above). Each commit of a ytauto writer
    /// moves the file's "changed" word, which a thread here moves every 50 ms while the lock is held.
    @Test(arguments: [false, true])
    func waitingBehindCommittingWritersIsNotLocked(pastTheCeiling: Bool) throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        let holder = try Connection(path: path)
        try holder.execute("CREATE TABLE t (x INTEGER)")
        try holder.execute("BEGIN IMMEDIATE")
        var options = Connection.Options()
        options.busyTimeout = .milliseconds(200)
        options.transactionRetryBound = .milliseconds(400)
        options.waitCeiling = pastTheCeiling ? .milliseconds(700) : .seconds(60)
        let waiter = try Connection(path: path, options: options)
        let others = try #require(WriteWake(databasePath: path))
        let release = Date().addingTimeInterval(1.5)
        // Only the thread touches the holder from here on.
        nonisolated(unsafe) let held = holder
        let committing = Thread {
            while Date() < release { others.bumpChange(); usleep(50_000) }
            try? held.execute("COMMIT")
        }
        committing.start()
        let started = Date()
        let outcome = Result { try waiter.writeTransaction { db in try db.run("INSERT INTO t VALUES (1)") } }
        let waited = Date().timeIntervalSince(started)
        if pastTheCeiling {
            // 0.7 s in all, however busy the others: a clear error, before the holder lets go.
            #expect(throws: SQLiteError.self) { try outcome.get() }
            #expect(waited < 1.5)
        } else {
            // Past both bounds (0.4 s), behind "commits" all along: it waited for the lock and wrote.
            #expect(try outcome.get() == 1)
            #expect(waited >= 1.4)
        }
        while Date() < release.addingTimeInterval(0.2) { usleep(20_000) }
    }

    /// Blocked SQLite calls run on each queue's own thread: with more blocked writers than
    /// cores, Swift tasks still run.
    @Test func blockedWritersDoNotStarveTheCooperativePool() async throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        let holder = try Connection(path: path)
        try holder.execute("CREATE TABLE t (x INTEGER)")
        try holder.execute("BEGIN IMMEDIATE")
        // Patient writers: on a loaded machine the wait below may outlast the default bounds.
        var patient = Connection.Options()
        patient.busyTimeout = .seconds(60)
        patient.transactionRetryBound = .seconds(60)
        let queues = try (0..<8).map { _ in try DatabaseQueue(path: path, options: patient) }
        let writes = queues.map { q in Task { try await q.write { db in try db.run("INSERT INTO t VALUES (1)") } } }
        // The writers are waiting on the lock: one at least asleep in its busy handler (the queues
        // run on dispatch's threads, which a loaded test process may hand out one by one).
        let probe = try #require(WriteWake(databasePath: path))
        #expect(await eventually(timeout: .seconds(60)) { probe.sleepers >= 1 })
        // A task on the cooperative pool still completes:
        let progressed = try await Task { () async throws -> Bool in
            var n = 0
            for _ in 0..<50 { try await Task.sleep(for: .milliseconds(1)); n += 1 }
            return n == 50
        }.value
        #expect(progressed)
        let stillLocked = try holder.queryOne("SELECT count(*) AS n FROM t")?.int("n")
        #expect(stillLocked == 0)
        try holder.execute("COMMIT")
        for w in writes { _ = try await w.value }
        #expect(try holder.queryOne("SELECT count(*) AS n FROM t")?.int("n") == 8)
    }

    /// Every write transaction, committed or rolled back, bumps `<db>-wake` once, as seen
    /// through a second mapping of the file.
    @Test func writeTransactionsBumpTheSharedWakeWord() throws {
        struct Boom: Error {}
        let dir = TempDir()
        let path = dir.path("a.db")
        let db = try Connection(path: path)
        #expect(FileManager.default.fileExists(atPath: path + "-wake"))
        let other = try #require(WriteWake(databasePath: path))
        let before = other.value
        try db.writeTransaction { db in try db.execute("CREATE TABLE t (x INTEGER)") }
        try db.writeTransaction { db in try db.run("INSERT INTO t VALUES (1)") }
        #expect(throws: Boom.self) { try db.writeTransaction { _ in throw Boom() } }
        #expect(other.value &- before == 3)
        // A reader does not bump it, and a read-only connection maps nothing.
        _ = try db.readTransaction { db in try db.query("SELECT * FROM t") }
        #expect(other.value &- before == 3)
        var readOnly = Connection.Options()
        readOnly.readOnly = true
        let reader = try Connection(path: path, options: readOnly)
        #expect(reader.wake == nil)
        #expect(WriteWake(databasePath: dir.path("no/such/folder/a.db")) == nil)
    }

    /// A sleeper on one mapping of the word is woken by a bump through another mapping (a
    /// shared futex keyed by the file, as between processes), long before its timeout.
    @Test func aBumpWakesASleeperOnAnotherMapping() async throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        let a = try #require(WriteWake(databasePath: path))
        let b = try #require(WriteWake(databasePath: path))
        let ready = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        let stop = Locked(false)
        // The sleeper re-arms after every return, so a bump that came before it slept is not
        // mistaken for a wake: only `bump()` returning true says a sleeper was in the futex.
        Thread.detachNewThread {
            while !stop.value {
                let seen = a.value
                ready.signal()
                a.wait(seen: seen, nanoseconds: 60_000_000_000)
            }
            finished.signal()
        }
        // `bump()` counts the sleepers the kernel woke: one means the sleeper was in the
        // futex through mapping `a` and a bump through mapping `b` reached it.
        var wokeOne = false
        for _ in 0..<50 where !wokeOne {
            ready.wait()
            try await Task.sleep(for: .milliseconds(100))
            wokeOne = b.bump()
        }
        #expect(wokeOne)
        stop.value = true
        while finished.wait(timeout: .now() + 0.05) == .timedOut { b.bump() }
        // A sleeper whose `seen` is stale does not sleep at all.
        let stale = ContinuousClock.now
        a.wait(seen: a.value &- 1, nanoseconds: 60_000_000_000)
        #expect(ContinuousClock.now - stale < .seconds(30))
    }

    @Test func aFileThatIsNotADatabaseIsNamedInTheError() throws {
        let dir = TempDir()
        let path = dir.path("junk.db")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: SQLiteError.self) { try SQLiteJobStore(path: path) }
        #expect(error.isCorrupt)
        #expect(error.description.contains(path))
        #expect(error.description.contains("not a valid ytauto database"))
        // Nothing was written over it.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 0x41, count: 8192))
    }
}
