import CSQLite
import Foundation

extension Connection {
    /// Copies the live database to `path` through SQLite's online backup API, 256 pages a
    /// step. Safe while workers write: a step that meets a lock waits and retries, and the
    /// copy is one consistent snapshot. The file is written beside `path` and renamed into
    /// place, so a failed backup never leaves a half-written file under that name.
    public func backup(to path: String) throws {
        let temporary = path + ".partial-\(getpid())"
        unlink(temporary)
        var destination: OpaquePointer?
        guard sqlite3_open_v2(temporary, &destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK,
              let destination
        else {
            let message = destination.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let destination { sqlite3_close_v2(destination) }
            throw SQLiteError(extendedCode: SQLITE_CANTOPEN, message: "backup target: \(message)", path: path)
        }
        defer { sqlite3_close_v2(destination) }
        guard let backup = sqlite3_backup_init(destination, "main", handle, "main") else {
            throw SQLiteError(extendedCode: sqlite3_extended_errcode(destination),
                              message: "backup: \(String(cString: sqlite3_errmsg(destination)))", path: path)
        }
        var rc: Int32
        repeat {
            rc = sqlite3_backup_step(backup, 256)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { usleep(UInt32.random(in: 500...2000)) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            unlink(temporary)
            throw SQLiteError(extendedCode: rc, message: "backup failed: \(String(cString: sqlite3_errstr(rc)))", path: path)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw SQLiteError(extendedCode: SQLITE_IOERR, message: "backup: cannot move the copy into place: \(reason)", path: path)
        }
    }
}
