import CSQLite
import Foundation

/// An error from SQLite, with its extended result code, its message and the SQL that failed.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The extended result code (e.g. 517 `SQLITE_BUSY_SNAPSHOT`).
    public let extendedCode: Int32
    public let message: String
    public let sql: String?
    /// The database file, when known.
    public let path: String?

    /// For a write refused as read-only: which of the database's files this user cannot write.
    public let readOnlyFiles: String?

    public init(extendedCode: Int32, message: String, sql: String? = nil, path: String? = nil) {
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
        self.path = path
        self.readOnlyFiles = extendedCode & 0xff == SQLITE_READONLY ? path.flatMap(Self.unwritableFiles) : nil
    }

    /// The database's files (the file, its `-wal` and `-shm`) that exist and this user cannot
    /// write, with their modes: "ytauto.db-shm (mode 0444)". A read-only command on a read-only
    /// file leaves `-wal` and `-shm` made with the file's mode, so making the file writable
    /// again is not enough; the message has to name them. Nil when every one is writable.
    static func unwritableFiles(_ path: String) -> String? {
        let named = [path, path + "-wal", path + "-shm"].compactMap { file -> String? in
            var st = stat()
            guard stat(file, &st) == 0, access(file, W_OK) != 0 else { return nil }
            return "\(file) (mode 0\(String(st.st_mode & 0o777, radix: 8)), owner uid \(st.st_uid))"
        }
        return named.isEmpty ? nil : named.joined(separator: ", ")
    }

    /// The primary result code (`SQLITE_BUSY` for all the busy variants).
    public var primaryCode: Int32 { extendedCode & 0xff }

    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    public var isConstraint: Bool { primaryCode == SQLITE_CONSTRAINT }
    public var isCorrupt: Bool { primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB }
    public var isDiskFull: Bool { primaryCode == SQLITE_FULL }
    /// Whether the error is the database's rather than one statement's: busy, a full disk,
    /// corruption, an I/O or memory failure, a read-only file, an interrupt or abort. A group of
    /// writes that meets one fails as a whole (``WriteBatch``), where a constraint fails only its write.
    public var failsTheWholeTransaction: Bool {
        isBusy || isDiskFull || isCorrupt
            || [SQLITE_IOERR, SQLITE_NOMEM, SQLITE_READONLY, SQLITE_INTERRUPT, SQLITE_ABORT].contains(primaryCode)
    }

    public var description: String {
        var s = "SQLite error \(extendedCode) (\(String(cString: sqlite3_errstr(extendedCode)))): \(message)"
        if let path { s += " [database: \(path)]" }
        if isCorrupt { s += " — the file is not a valid ytauto database or is damaged; restore it from a backup" }
        if isDiskFull { s += " — the disk is full; free space and the write can be retried, nothing was committed" }
        if let readOnlyFiles {
            s += " — this user cannot write \(readOnlyFiles): make \(readOnlyFiles.contains("), ") ? "them" : "it") writable"
                + " (a read-only command on a read-only database leaves its -wal and -shm with the database's mode)"
        }
        if let sql { s += " [sql: \(sql.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))]" }
        return s
    }

    /// `~=` lets a primary code match all its extended codes: `case SQLITE_BUSY:` catches `SQLITE_BUSY_SNAPSHOT`.
    public static func ~= (code: Int32, error: SQLiteError) -> Bool {
        code == error.extendedCode || code == error.primaryCode
    }
}

