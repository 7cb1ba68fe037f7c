import CSQLite
import Foundation

/// The ceiling: a connection straight on CSQLite, with SQLite's own busy handler
/// (`sqlite3_busy_timeout`), no retry policy, no framework code. Each SQL text is prepared
/// once and reused, as a careful C program would: the ceiling is not slowed by re-parsing.
final class RawSQLite {
    let db: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]

    /// - Parameter likeTheStore: also set SQLite up as the store does (its process-wide settings,
    ///   `ytauto_sqlite3_configure`, when this is the process's first connection, and a WAL
    ///   checkpoint every 10,000 pages), for the ceiling, which runs the store's statements; the
    ///   minimal queue keeps SQLite's defaults.
    init(_ path: String, create: Bool = false, likeTheStore: Bool = false) throws {
        if likeTheStore { _ = ytauto_sqlite3_configure() }
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), nil) == SQLITE_OK, let handle else {
            throw BenchError("cannot open \(path)")
        }
        db = handle
        try exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")
        if likeTheStore { try exec("PRAGMA wal_autocheckpoint = 10000") }
        sqlite3_busy_timeout(db, 30_000)
    }

    deinit {
        for stmt in statements.values { sqlite3_finalize(stmt) }
        sqlite3_close_v2(db)
    }

    func exec(_ sql: String) throws {
        while true {
            let rc = sqlite3_exec(db, sql, nil, nil, nil)
            if rc == SQLITE_OK { return }
            if rc == SQLITE_BUSY { continue }
            throw BenchError("\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    /// Binds (Int64, String or nil) the statement prepared for `sql`, steps to the end, and
    /// returns the rows as text.
    @discardableResult
    func run(_ sql: String, _ args: [Any?]) throws -> [[String?]] {
        let stmt: OpaquePointer
        if let cached = statements[sql] {
            stmt = cached
        } else {
            var made: OpaquePointer?
            guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &made, nil) == SQLITE_OK, let made else {
                throw BenchError("prepare \(sql): \(String(cString: sqlite3_errmsg(db)))")
            }
            statements[sql] = made
            stmt = made
        }
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, a) in args.enumerated() {
            switch a {
            case let v as Int64: sqlite3_bind_int64(stmt, Int32(i + 1), v)
            case let v as Int: sqlite3_bind_int64(stmt, Int32(i + 1), Int64(v))
            case let v as String: sqlite3_bind_text(stmt, Int32(i + 1), v, -1, transient)
            default: sqlite3_bind_null(stmt, Int32(i + 1))
            }
        }
        var rows: [[String?]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_ROW {
                rows.append((0..<sqlite3_column_count(stmt)).map { c in
                    sqlite3_column_text(stmt, c).map { String(cString: $0) }
                })
            } else if rc == SQLITE_DONE {
                return rows
            } else if rc & 0xff == SQLITE_BUSY && sqlite3_get_autocommit(db) != 0 {
                // An autocommit write whose read snapshot went stale (SQLITE_BUSY_SNAPSHOT, which no
                // busy handler waits out): nothing was applied; run it again, as any client must.
                sqlite3_reset(stmt)
                rows.removeAll()
            } else {
                throw BenchError("\(sql): \(String(cString: sqlite3_errmsg(db)))")
            }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
