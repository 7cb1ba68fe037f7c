import CSQLite
import Foundation

/// How thoroughly to check a database file.
public enum IntegrityCheck: String, Sendable {
    /// `PRAGMA integrity_check`: every page, every index against its table. Reads the whole file
    /// and sorts each index: seconds for a queue of a few hundred MB.
    case full = "integrity_check"
    /// `PRAGMA quick_check`: every page's structure, but no index against its table. About
    /// linear in the file's size; misses an index that disagrees with its table.
    case quick = "quick_check"
}

/// What a check of a database file found: nothing when it is sound.
public struct IntegrityReport: Sendable, Hashable {
    public let path: String
    public let check: IntegrityCheck
    /// SQLite's own lines (`Tree 4 page 12 cell 0: …`), at most ``Connection/integrityLimit``.
    public let problems: [String]
    public var isSound: Bool { problems.isEmpty }

    /// How many problems were found, as a phrase: "3 problem(s)", or "at least 100 problems
    /// (SQLite lists no more)" when the check stopped at ``Connection/integrityLimit``.
    public var count: String {
        problems.count >= Connection.integrityLimit
            ? "at least \(problems.count) problems (SQLite lists no more than \(Connection.integrityLimit))"
            : "\(problems.count) problem(s)"
    }
}

extension Connection {
    /// At most this many problems are listed; a badly damaged file has thousands.
    public static let integrityLimit = 100

    /// Runs `check` on this connection's file.
    public func integrity(_ check: IntegrityCheck) -> IntegrityReport {
        IntegrityReport(path: path, check: check, problems: Self.integrityProblems(handle, check))
    }

    /// SQLite's findings on the database open on `db`: the pragma's lines other than `ok`.
    /// A file so damaged that the pragma itself stops (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) yields
    /// that error as its finding rather than throwing, so the caller reports it the same way.
    static func integrityProblems(_ db: OpaquePointer, _ check: IntegrityCheck) -> [String] {
        var statement: OpaquePointer?
        let sql = "PRAGMA \(check.rawValue)(\(integrityLimit))"
        var rc = sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            return ["\(check.rawValue) could not run: \(String(cString: sqlite3_errmsg(db)))"]
        }
        defer { sqlite3_finalize(statement) }
        var lines: [String] = []
        while true {
            rc = sqlite3_step(statement)
            guard rc == SQLITE_ROW else { break }
            // One row may hold several findings, a line each (SQLite packs them): one problem a line.
            if let text = sqlite3_column_text(statement, 0) {
                lines += String(cString: text).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            }
        }
        if rc != SQLITE_DONE {
            lines.append("\(check.rawValue) stopped: \(String(cString: sqlite3_errmsg(db))) (\(String(cString: sqlite3_errstr(rc))))")
        }
        return lines == ["ok"] ? [] : lines.filter { $0 != "ok" }
    }

    /// Checks the database file at `path` without writing to it (opened read-only): what
    /// `ytauto-admin check` runs on the live file, safe while workers run.
    /// - Throws: ``SQLiteError`` when the file is missing or cannot be opened at all for a reason
    ///   other than damage (a permission); a damaged file is a report, not an error.
    public static func check(path: String, _ check: IntegrityCheck) throws -> IntegrityReport {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SQLiteError(extendedCode: SQLITE_CANTOPEN, message: "no database file at \(path)", path: path)
        }
        var options = Options()
        options.readOnly = true
        do {
            return try Connection(path: path, options: options).integrity(check)
        } catch let error as SQLiteError where error.isCorrupt {
            return IntegrityReport(path: path, check: check, problems: [error.message])
        }
    }
}
