import CSQLite

/// A prepared statement. Not Sendable: it belongs to its ``Connection``'s thread.
public final class Statement {
    let handle: OpaquePointer
    public let sql: String
    private let path: String
    private lazy var columnNames = ColumnNames((0..<sqlite3_column_count(handle)).map {
        String(cString: sqlite3_column_name(handle, $0))
    })

    init(handle: OpaquePointer, sql: String, path: String) {
        self.handle = handle
        self.sql = sql
        self.path = path
    }

    deinit { sqlite3_finalize(handle) }

    private func error(_ code: Int32) -> SQLiteError {
        let db = sqlite3_db_handle(handle)
        return SQLiteError(
            extendedCode: db.map { sqlite3_extended_errcode($0) } ?? code,
            message: db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code)),
            sql: sql, path: path)
    }

    /// Resets the statement and binds `values` to its parameters, in order.
    public func bind(_ values: [any SQLBindable]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard expected == values.count else {
            throw SQLiteError(
                extendedCode: SQLITE_RANGE,
                message: "statement takes \(expected) parameters, \(values.count) given", sql: sql, path: path)
        }
        for (offset, value) in values.enumerated() {
            let i = Int32(offset + 1)
            let rc: Int32
            switch value.sqlValue {
            case .null: rc = sqlite3_bind_null(handle, i)
            case .integer(let v): rc = sqlite3_bind_int64(handle, i, v)
            case .real(let v): rc = sqlite3_bind_double(handle, i, v)
            case .text(let t): rc = sqlite3_bind_text(handle, i, t, -1, SQLITE_TRANSIENT)
            case .blob(let b):
                rc = b.withUnsafeBytes { sqlite3_bind_blob(handle, i, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT) }
            }
            guard rc == SQLITE_OK else { throw error(rc) }
        }
    }

    /// Steps once. `true` when a row is ready to read with ``row()``.
    public func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc:
            let e = error(rc)
            sqlite3_reset(handle)
            throw e
        }
    }

    /// The current row.
    public func row() -> Row {
        let n = sqlite3_column_count(handle)
        var values: [SQLValue] = []
        values.reserveCapacity(Int(n))
        for i in 0..<n {
            switch sqlite3_column_type(handle, i) {
            case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, i)))
            case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(handle, i)))
            case SQLITE_TEXT: values.append(.text(String(cString: sqlite3_column_text(handle, i))))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(handle, i))
                if let p = sqlite3_column_blob(handle, i), count > 0 {
                    values.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: count))))
                } else {
                    values.append(.blob([]))
                }
            default: values.append(.null)
            }
        }
        return Row(names: columnNames, values: values)
    }

    /// Binds, runs to completion and returns every row.
    public func all(_ values: [any SQLBindable] = []) throws -> [Row] {
        try bind(values)
        defer { sqlite3_reset(handle) }
        var rows: [Row] = []
        while try step() { rows.append(row()) }
        return rows
    }
}

/// SQLite copies bound text and blobs at once (`SQLITE_TRANSIENT`), so Swift buffers may go away.
private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
