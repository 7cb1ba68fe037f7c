import CSQLite
import Foundation

extension Connection {
    /// Why the file at `backup` cannot be restored into the database at `database`, or nil when
    /// it can: it must be a file other than the database and the files beside it, pass SQLite's
    /// `integrity_check`, and be a ytauto database of this binary's schema or an older one.
    /// Read-only: nothing is written.
    public static func restoreSourceProblem(backup: String, database: String) -> String? {
        guard FileManager.default.fileExists(atPath: backup) else { return "no file at \(backup)" }
        if let problem = backupTargetProblem(source: database, target: backup) {
            return problem.replacingOccurrences(of: "back it up to another file", with: "name the backup file")
        }
        do {
            let report = try check(path: backup, .full)
            guard report.isSound else {
                return "\(backup) failed SQLite's integrity_check with \(report.problems.count) problem(s), the first: \(report.problems[0])"
            }
            var options = Options()
            options.readOnly = true
            let applied = try Migrator().applied(try Connection(path: backup, options: options))
            guard !applied.isEmpty else { return "\(backup) is not a ytauto database (it has no schema_migrations)" }
            try Migrator().check(applied)
        } catch {
            return "\(backup) cannot be read as a ytauto database: \(error)"
        }
        return nil
    }

    /// Writes the database at `backup` into this one with SQLite's backup API, in one step,
    /// then empties the log (`wal_checkpoint(TRUNCATE)`) and checks the result (`quick_check`).
    ///
    /// Not a copy of the file: SQLite writes the backup's pages through this connection, under
    /// its write lock and through its log, so a `-wal` left beside the database by a killed
    /// process is part of what is replaced, never replayed over the restored pages (copying the
    /// file over the database did that: its indexes no longer matched its tables, or the newer
    /// state came back). The caller makes sure nothing else uses the database.
    public func restore(from backup: String) throws -> IntegrityReport {
        var source: OpaquePointer?
        guard sqlite3_open_v2(backup, &source, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let source else {
            let message = source.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let source { sqlite3_close_v2(source) }
            throw SQLiteError(extendedCode: SQLITE_CANTOPEN, message: "restore source: \(message)", path: backup)
        }
        defer { sqlite3_close_v2(source) }
        try Self.copyPages(from: source, to: handle, doing: "restore", path: path)
        _ = try withBusyRetry { try self.query("PRAGMA wal_checkpoint(TRUNCATE)") }
        return integrity(.quick)
    }
}
