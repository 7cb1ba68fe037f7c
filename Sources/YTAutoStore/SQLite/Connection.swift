import CSQLite
import Foundation
import YTAutoCore

/// One SQLite connection. Not Sendable: a ``DatabaseQueue`` owns it and runs every call
/// under its lock, on its own serial queue or on a ``DatabaseThread``, so blocking SQLite
/// calls never occupy Swift's cooperative pool.
///
/// It opens with WAL, `synchronous=NORMAL`, foreign keys on, and a busy handler that
/// waits up to ``Options/busyTimeout``. SQLite's built-in handler sleeps 1, 2, 5 … 100 ms
/// in a fixed ladder, which lets one process starve the others. Ours sleeps on the file's
/// ``WriteWake`` word, which every write transaction bumps as it ends, so the lock passes
/// to the longest waiter as soon as it is free; without that file it sleeps short random
/// intervals.
///
/// Both bounds count time in which no write commits, not time spent waiting: a writer that
/// waits behind others that keep committing (six schedulers at once on a starved host) is
/// waiting its turn, not locked out, and keeps waiting, up to ``Options/waitCeiling`` in all.
/// "database is locked" therefore means that one holder kept the lock past the bound (a
/// process stopped in the middle of a transaction, or a writer outside ytauto, such as the
/// `sqlite3` shell, which the wake word does not see commit).
public final class Connection {
    public struct Options: Sendable {
        /// How long a statement waits for another process's lock, with no ytauto write
        /// committing meanwhile, before SQLITE_BUSY.
        public var busyTimeout: Duration = .seconds(10)
        /// How long a write transaction keeps retrying SQLITE_BUSY with no ytauto write
        /// committing meanwhile.
        public var transactionRetryBound: Duration = .seconds(30)
        /// How long a write transaction keeps waiting in all, however much others commit.
        public var waitCeiling: Duration = .seconds(300)
        public var readOnly = false
        /// The SQLite VFS to open the file through; nil for SQLite's default (`unix`). Not an
        /// operator's setting: the tests open through a VFS that fails reads like a bad disk.
        public var vfs: String?
        public init() {}
    }

    let handle: OpaquePointer
    public let path: String
    public let options: Options
    private var cache: [String: Statement] = [:]
    private let busyState: BusyState

    /// Opens (creating if needed) the database at `path`.
    /// - Throws: ``SQLiteError`` naming the file when it cannot be opened or is not a database.
    public init(path: String, options: Options = Options()) throws {
        _ = Self.configured
        self.path = path
        self.options = options
        let db: OpaquePointer
        if options.readOnly {
            db = try Self.openReadOnly(path, vfs: options.vfs, busyTimeout: options.busyTimeout)
        } else {
            db = try Self.open(path, name: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs: options.vfs)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        busyState = BusyState(
            timeoutNanos: UInt64(options.busyTimeout.seconds * 1e9),
            ceilingNanos: UInt64(options.waitCeiling.seconds * 1e9),
            wake: options.readOnly ? nil : WriteWake(databasePath: path))
        sqlite3_busy_handler(db, busyHandler, Unmanaged.passUnretained(busyState).toOpaque())
        // The first read of the file is here: a corrupt or foreign file fails now, clearly.
        if !options.readOnly {
            try withBusyRetry { _ = try self.query("PRAGMA journal_mode=WAL") }
        }
        try execute("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
        if !options.readOnly {
            // Checkpoint when the WAL holds 10,000 pages (40 MB) rather than SQLite's 1,000: each
            // checkpoint writes the hot pages (the queue's index leaves, job_counts) to the file
            // once and syncs, so ten times fewer of them cost a quarter of a job's time (measured
            // with `ytauto-bench queue`, one process, --stages 0: 9.5 s against 7.1 s for 20,000 jobs).
            try execute("PRAGMA wal_autocheckpoint=10000")
        }
        _ = try query("SELECT count(*) FROM sqlite_schema")
    }

    /// SQLite's process-wide settings (`ytauto_sqlite3_configure`), made once before the first
    /// connection:
    /// - Memory statistics off. ytauto never reads them, and keeping them takes a process-wide
    ///   mutex on every allocation SQLite makes (a lease and a completion make hundreds); one
    ///   process completing 20,000 jobs (`ytauto-bench queue-child`, 2 slots, 2026-12-04) took
    ///   10–15 % less time without them.
    /// - No bulk allocation for a page cache. Every statement with `RETURNING` (a lease, a
    ///   completion) keeps its rows in an ephemeral table with a cache of its own, which
    ///   allocated room for 20 pages (about 90 KB) and freed it at the statement's end: libc
    ///   gave the memory back to the kernel and faulted it in again each time (four `brk` or
    ///   `madvise` calls a job, a tenth of a worker's time in page faults). Without it, one
    ///   process's life cycles run about a fifth faster (docs/benchmarks.md, 2026-12-04 evening).
    /// SQLITE_MISUSE (SQLite already initialized, by a library loaded in the same process)
    /// leaves the defaults, only slower.
    private static let configured: Void = { _ = ytauto_sqlite3_configure() }()

    private var isClosed = false

    /// Closes the connection (once). The last connection to a WAL file to close folds the `-wal`
    /// into the file and removes it, as SQLite does; a process that exits with one open leaves
    /// its writes in the `-wal` for the next opener. Only its ``DatabaseQueue`` calls it, under
    /// the queue's lock, and then refuses every later use.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    deinit { close() }

    private static func open(_ path: String, name: String, flags: Int32, vfs: String? = nil) throws -> OpaquePointer {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(name, &db, flags, vfs)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(extendedCode: rc, message: "cannot open database: \(message)", path: path)
        }
        return db
    }

    /// Opens the file read-only, without creating it.
    ///
    /// A WAL database is read through its `-wal` and `-shm` files. In a folder this process may
    /// not write (a read-only mount, or permissions: another user's folder), with no `-wal` there
    /// (no connection has the file open: the last one to close removes it), SQLite cannot make
    /// them and refuses to open. Nobody can be writing the file
    /// then, so it is opened `immutable`, which reads the main file alone (likewise on a full disk,
    /// where the `-shm` cannot be made or grown, when the `-wal` is missing or empty); a writer that starts
    /// while such a reader runs could show it a torn read, which is acceptable for a look at
    /// `status` and refused for nothing else (read-only commands only read).
    ///
    /// That first read waits up to `busyTimeout` for a process that holds the file against
    /// readers (SQLite's recovery of a `-wal` after a crash, a writer in exclusive locking mode),
    /// with SQLite's own busy timeout: ytauto's busy handler is set only once the file is open.
    private static func openReadOnly(_ path: String, vfs: String?, busyTimeout: Duration) throws -> OpaquePointer {
        let flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
        let db = try open(path, name: path, flags: flags, vfs: vfs)
        sqlite3_busy_timeout(db, Int32(clamping: Int64(busyTimeout.seconds * 1000)))
        // Opening is lazy: the first read finds out whether the WAL files can be had.
        let rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", nil, nil, nil)
        guard rc != SQLITE_OK else { return db }
        let code = sqlite3_extended_errcode(db)
        let message = String(cString: sqlite3_errmsg(db))
        sqlite3_close_v2(db)
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let canWriteFolder = access(folder.isEmpty ? "." : folder, W_OK) == 0
        // A -wal with frames in it holds committed writes the main file lacks; an empty one, none.
        let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int
        let walHolds = (walSize ?? 0) > 0
        // CANTOPEN on a read-only mount; READONLY_DIRECTORY where the folder's permissions forbid the user.
        let cannotMakeFiles = code & 0xff == SQLITE_CANTOPEN || code == SQLITE_READONLY | (6 << 8)  // SQLITE_READONLY_DIRECTORY
        // A full disk: the -shm (or -wal) SQLite reads through cannot be made or grown.
        let diskFull = code == SQLITE_IOERR | (19 << 8) || code & 0xff == SQLITE_FULL  // SQLITE_IOERR_SHMSIZE
            || (code & 0xff == SQLITE_IOERR && Self.freeBytes(folder.isEmpty ? "." : folder) == 0)
        guard (cannotMakeFiles && !canWriteFolder) || diskFull, !walHolds else {
            let hint = diskFull ? "; the disk holding it is full, and its -wal has writes the file alone lacks: free space on it" : ""
            throw SQLiteError(extendedCode: code, message: "cannot open database: \(message)\(hint)", path: path)
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        let uri = "file:" + (absolute.addingPercentEncoding(withAllowedCharacters: allowed) ?? absolute) + "?immutable=1"
        return try open(path, name: uri, flags: flags | SQLITE_OPEN_URI)
    }

    /// The bytes free for this user on the file system holding `folder`, or nil if it cannot be asked.
    static func freeBytes(_ folder: String) -> UInt64? {
        var fs = statvfs()
        guard statvfs(folder, &fs) == 0 else { return nil }
        return UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
    }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(extendedCode: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql, path: path)
    }

    /// Runs one or more statements without parameters.
    public func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
    }

    /// Prepares a statement without caching it.
    public func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql: sql) }
        return Statement(handle: stmt, sql: sql, path: path)
    }

    /// A prepared statement from this connection's cache: each SQL text is compiled once.
    public func cached(_ sql: String) throws -> Statement {
        if let s = cache[sql] { return s }
        let s = try prepare(sql)
        cache[sql] = s
        return s
    }

    /// Runs a statement and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ values: [any SQLBindable] = []) throws -> [Row] {
        try cached(sql).all(values)
    }

    /// Runs a statement and returns its first row, if any.
    public func queryOne(_ sql: String, _ values: [any SQLBindable] = []) throws -> Row? {
        try query(sql, values).first
    }

    /// Runs a statement that returns no rows, and returns how many rows it changed.
    @discardableResult
    public func run(_ sql: String, _ values: [any SQLBindable] = []) throws -> Int {
        _ = try cached(sql).all(values)
        return Int(sqlite3_changes(handle))
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs `body` in a write transaction that begins IMMEDIATE.
    ///
    /// IMMEDIATE takes the write lock up front: a deferred transaction that later upgrades
    /// to a write can get SQLITE_BUSY that no busy handler can resolve. On any error the
    /// transaction rolls back and the first error is rethrown. SQLITE_BUSY is retried
    /// (rolled back, jittered sleep, run again) until ``Options/transactionRetryBound``;
    /// `body` may therefore run more than once and must only touch the database.
    ///
    /// With `waitingTurn`, a connection that has taken ``BusyState/turnsBeforeYield`` such
    /// transactions in a row and whose last commit woke a waiting process lets that process
    /// take the lock first (for up to a millisecond) instead of taking it straight back. The
    /// store asks this when a worker leases new work, so each process gets its share of the
    /// jobs; the writes of a job already in hand never wait a turn, which keeps the lock busy.
    /// The turns before the last of a run wake nobody: a waiter woken then only found the lock
    /// taken again and went back to sleep, a context switch each on a busy host (`ytauto-bench
    /// queue --stages 0`, 4 processes, 2026-12-04: ours 4,080–4,432 jobs/s waking one on every
    /// commit, 4,477–5,455 waking one at the end of each run).
    ///
    /// With `wakes` false, the end of the transaction does not wake a waiting process (it finds
    /// the lock free when its 1–4 ms sleep ends): for the writes in the middle of a job, so that
    /// a worker's run of them is not broken by a context switch each.
    public func writeTransaction<T>(waitingTurn: Bool = false, wakes: Bool = true, _ body: (Connection) throws -> T) throws -> T {
        try withBusyRetry {
            if let wake = busyState.wake {
                if waitingTurn && owesATurn {
                    busyState.turnsTaken = 0
                    // Our last commit woke a waiter, and we have had our run: let it go first.
                    wake.wait(seen: wake.value, nanoseconds: 1_000_000)
                }
                busyState.seen = wake.value
            }
            try self.cached("BEGIN IMMEDIATE").all()
            if waitingTurn { busyState.turnsTaken += 1 }
            // The write lock is ours until the end of this block; then the next waiter's turn.
            defer {
                busyState.wokeWaiter = busyState.wake?.bump(waking: wakes && (!waitingTurn || busyState.turnsTaken >= BusyState.turnsBeforeYield)) ?? false
                busyState.wake?.bumpChange()
            }
            do {
                let result = try body(self)
                try self.cached("COMMIT").all()
                return result
            } catch {
                if self.isInTransaction { try? self.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// The file's shared wake words (nil for a read-only connection, or where the file cannot be made).
    var wake: WriteWake? { busyState.wake }

    /// Whether this connection has had its run of `waitingTurn` transactions and its last
    /// commit woke a waiting process, which the next such transaction then lets go first.
    var owesATurn: Bool { busyState.wokeWaiter && busyState.turnsTaken >= BusyState.turnsBeforeYield }

    /// Runs `body` in a read transaction: one consistent snapshot for all its statements.
    public func readTransaction<T>(_ body: (Connection) throws -> T) throws -> T {
        try cached("BEGIN DEFERRED").all()
        do {
            let result = try body(self)
            try cached("COMMIT").all()
            return result
        } catch {
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Retries `body` while it fails with SQLITE_BUSY, with jittered sleeps, until no write has
    /// committed for ``Options/transactionRetryBound`` (any commit of another ytauto connection
    /// on the file moves the deadline on) or ``Options/waitCeiling`` has passed in all.
    func withBusyRetry<T>(_ body: () throws -> T) throws -> T {
        let bound = UInt64(options.transactionRetryBound.seconds * 1e9)
        let started = DispatchTime.now().uptimeNanoseconds
        let ceiling = started + UInt64(options.waitCeiling.seconds * 1e9)
        var deadline = started + bound
        var progress = busyState.wake?.changeValue
        var tries = 0
        while true {
            do {
                return try body()
            } catch let e as SQLiteError where e.isBusy {
                let now = DispatchTime.now().uptimeNanoseconds
                if let wake = busyState.wake, wake.changeValue != progress {
                    // Someone committed since we last looked: the lock is moving, wait on.
                    progress = wake.changeValue
                    deadline = now + bound
                }
                guard now < min(deadline, ceiling) else { throw e }
                tries += 1
                usleep(UInt32.random(in: 200...(1000 * UInt32(min(tries, 10)))))
            }
        }
    }
}

/// Per-connection state for the busy handler: when the current wait began, and the wake
/// word as it was before the refused attempt (a bump since then means "try again now").
final class BusyState {
    let timeoutNanos: UInt64
    let ceilingNanos: UInt64
    let wake: WriteWake?
    /// When the current wait began, and when it last saw a commit.
    var firstWaitAt: UInt64 = 0
    var waitStartedAt: UInt64 = 0
    /// The file's "changed" word when the wait last saw it move (every ytauto write bumps it).
    var progressSeen: UInt32 = 0
    var seen: UInt32 = 0
    var wokeWaiter = false
    var turnsTaken = 0
    /// How many `waitingTurn` transactions (leases) a connection takes in a row, while it keeps
    /// waking waiters, before it lets one go first. Measured with `ytauto-bench queue`, 4
    /// processes on 2 cores, the store on its ``DatabaseThread``, against raw CSQLite
    /// (2026-11-25, three runs each): every 4th lease gave 0.82–0.85 of the ceiling with a
    /// lease p99 of 11–12 ms; every 8th 0.85–0.93 and 13–15 ms; every 16th 0.83–0.89 and
    /// 15–20 ms. Shares stayed within 21–30 % throughout. Real jobs last minutes, where any
    /// of these is fair. Since 2026-12-04 a transaction may carry several leases (a worker's
    /// slots grouped, ``WriteBatch``) and the turns before the last wake nobody; measured again
    /// then (`--stages 0`, grouped): every 8th gave a lease p99 of 13–19 ms, every 20th 16–28 ms
    /// (past the goal of 20 ms) for little more speed, so 8 it stays.
    static let turnsBeforeYield = 8
    init(timeoutNanos: UInt64, ceilingNanos: UInt64, wake: WriteWake?) {
        self.timeoutNanos = timeoutNanos
        self.ceilingNanos = ceilingNanos
        self.wake = wake
    }
}

/// SQLite calls this while another connection holds a lock it needs. `count` is the number
/// of prior calls for the same wait. Returning 0 gives up with SQLITE_BUSY.
private func busyHandler(_ context: UnsafeMutableRawPointer?, _ count: Int32) -> Int32 {
    guard let context else { return 0 }
    let state = Unmanaged<BusyState>.fromOpaque(context).takeUnretainedValue()
    let now = DispatchTime.now().uptimeNanoseconds
    if count == 0 {
        state.firstWaitAt = now
        state.waitStartedAt = now
        state.progressSeen = state.wake?.changeValue ?? 0
    } else if let change = state.wake?.changeValue, change != state.progressSeen {
        // Another write committed: the lock is passing from writer to writer; the bound counts
        // from the last commit, so waiting one's turn behind busy writers is not "locked".
        state.progressSeen = change
        state.waitStartedAt = now
    }
    if now - state.waitStartedAt >= state.timeoutNanos || now - state.firstWaitAt >= state.ceilingNanos { return 0 }
    if let wake = state.wake {
        // A ytauto writer wakes us when it ends its transaction; the 1–4 ms timeout covers
        // writers outside ytauto and a wake that went to someone else.
        wake.wait(seen: state.seen, nanoseconds: UInt64.random(in: 1_000_000...4_000_000))
        state.seen = wake.value
        return 1
    }
    // 50–500 µs at first, up to 50–2000 µs: short enough that a freed lock is taken soon,
    // random so that waiting processes do not wake in lockstep.
    let ceiling = UInt32(min(2000, 500 + Int(count) * 20))
    usleep(UInt32.random(in: 50...ceiling))
    return 1
}

