import CSQLite
import Foundation
import YTAutoCore

/// A backup whose copy failed its integrity check: the live database has damaged pages (the
/// backup API copies pages as they are). The copy is kept at ``keptAt``, never under the name
/// asked for, so nobody restores it as if it were good.
public struct BackupCheckFailed: Error, Sendable, CustomStringConvertible {
    public let report: IntegrityReport
    /// The live database that was copied.
    public let source: String
    /// Where the backup was asked to go (left as it was: an earlier good backup there stays).
    public let target: String
    /// Where the suspect copy is: `<target>.corrupt`.
    public let keptAt: String

    public var description: String {
        """
        the copy of \(source) failed SQLite's \(report.check.rawValue) with \(report.count); \
        the database itself has damaged pages. The suspect copy is kept as \(keptAt), not \(target). \
        Stop the workers, then salvage what is readable (sqlite3 \(source) .recover > recovered.sql) or restore an earlier backup (ytauto-admin restore BACKUP). \
        SQLite found:\n
        """ + report.problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// A backup target that would overwrite the database or a file beside it; nothing was written.
public struct BackupTargetRefused: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "backup refused: \(reason)" }
}

/// A backup that was made but could not be put in its place (the target could not be replaced,
/// or the copy given the database's mode); the copy was removed and the target left as it was.
public struct BackupNotPlaced: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { "backup: \(message)" }
}

extension Connection {
    /// Why `target` cannot take a backup of the database at `source`, or nil when it can.
    ///
    /// The copy is renamed over `target`, so a target that is the live file (under any name:
    /// a relative path, a symbolic link, a hard link) or one of the files SQLite and ytauto keep
    /// beside it (`-wal`, `-shm`, `-journal`, `-wake`) would replace the database or its log
    /// with a snapshot of itself while workers write, and lose what they committed since. A
    /// folder is refused too: the copy needs a file name.
    public static func backupTargetProblem(source: String, target: String) -> String? {
        guard !target.isEmpty else { return "the backup's path is empty; name the file to write, e.g. ytauto-backup.db" }
        let targetURL = URL(fileURLWithPath: target)
        var isFolder: ObjCBool = false
        if target.hasSuffix("/") || (FileManager.default.fileExists(atPath: target, isDirectory: &isFolder) && isFolder.boolValue) {
            // The workers' lock folder (`DB-workers`) is one of the database's own: no example inside it.
            let example = target.hasSuffix("-workers") && resolvedPath(target) == resolvedPath(source) + "-workers"
                ? "the database's workers folder, which ytauto keeps beside it; name a backup file elsewhere"
                : "a folder; name the backup file, e.g. \(targetURL.appendingPathComponent("ytauto-backup.db").path)"
            return "\(target) is \(example)"
        }
        let parent = targetURL.deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder) || !isFolder.boolValue {
            return "\(target): its folder \(parent) does not exist; make it first, or name a file in an existing folder"
        }
        var sourceStat = stat(), targetStat = stat()
        if stat(source, &sourceStat) == 0, stat(target, &targetStat) == 0,
           sourceStat.st_dev == targetStat.st_dev, sourceStat.st_ino == targetStat.st_ino {
            return "\(target) is the database itself; back it up to another file"
        }
        let resolvedSource = resolvedPath(source)
        let folder = targetURL.deletingLastPathComponent().path
        let resolvedTarget = resolvedPath(folder) + "/" + targetURL.lastPathComponent
        for suffix in ["", "-wal", "-shm", "-journal", "-wake"] where resolvedTarget == resolvedSource + suffix {
            return suffix.isEmpty
                ? "\(target) is the database itself; back it up to another file"
                : "\(target) is the database's \(suffix.dropFirst()) file, which SQLite or ytauto keeps beside it; back it up to another file"
        }
        return nil
    }

    /// Why the backup may not replace what is at `target`, or nil when it may: the copy is
    /// renamed over it, so it must be a plain file (not a symbolic link, device or pipe), not a
    /// file (a database, say) a process of this host has open, with no log beside it (`-wal`, `-journal`
    /// with content, which a process that died left: SQLite would read it into the backup,
    /// damaging it), in a folder this user may write.
    static func replaceProblem(at target: String) -> String? {
        let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
        var link = stat()
        if lstat(target, &link) == 0 {
            switch link.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFLNK:
                return "\(target) is a symbolic link (to \(resolvedPath(target))); the backup would replace the link, not write where it "
                    + "points: name that file, or another"
            default:
                return "\(target) is not a plain file (a device, pipe or socket), which the backup would replace; name a file"
            }
        }
        // Another database in use there: its processes would go on writing the old file's log,
        // which the next open reads into the backup (SQLite takes `X-wal` for X's).
        let holders = LocalProcess.holding([target, target + "-wal"])
        if !holders.isEmpty {
            let who = holders.map { "pid \($0.pid) (\($0.command))" }.joined(separator: ", ")
            guard isSQLiteDatabase(target) else {
                return "\(target) is open in \(who), which would go on with the old file, not the backup. Stop them, or name another file"
            }
            return "\(target) is a database in use by \(who); the backup would be damaged by its log. Stop them, or name another file"
        }
        // A log a process left when it died (an empty one, as a read-only look leaves, holds nothing).
        for suffix in ["-wal", "-journal"] {
            var log = stat()
            if stat(target + suffix, &log) == 0, log.st_size > 0 {
                return "\(target)\(suffix) (\(log.st_size) bytes) is beside \(target): a log a process left without closing, which would be "
                    + "read into the backup and damage it. Open \(target) once with sqlite3 to fold it in, remove both, or name another file"
            }
        }
        // The copy is written in the target's folder, then renamed: both need the folder writable.
        if access(parent, W_OK | X_OK) != 0 {
            return "\(target): its folder \(parent) is not writable by this user (\(String(cString: strerror(errno)))); name a file in a "
                + "folder you may write, or run the backup as the folder's owner"
        }
        return nil
    }

    /// Whether the file at `path` begins with SQLite's header ("SQLite format 3").
    static func isSQLiteDatabase(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 16)) == Data("SQLite format 3\u{0}".utf8)
    }

    /// `path` with symbolic links, `.` and `..` resolved (as far as they exist).
    static func resolvedPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Copies every page of `source`'s main database into `destination`'s with SQLite's backup
    /// API, in one step (see ``backup(to:check:)`` for why not in steps), waiting out locks.
    /// `doing` names the operation in the error.
    static func copyPages(from source: OpaquePointer, to destination: OpaquePointer, doing: String, path: String) throws {
        guard let step = sqlite3_backup_init(destination, "main", source, "main") else {
            throw SQLiteError(extendedCode: sqlite3_extended_errcode(destination),
                              message: "\(doing): \(String(cString: sqlite3_errmsg(destination)))", path: path)
        }
        var rc: Int32
        repeat {
            rc = sqlite3_backup_step(step, -1)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { usleep(UInt32.random(in: 500...2000)) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        sqlite3_backup_finish(step)
        guard rc == SQLITE_DONE else {
            throw SQLiteError(extendedCode: rc, message: "\(doing) failed: \(String(cString: sqlite3_errstr(rc)))", path: path)
        }
    }

    /// Copies the live database to `path` through SQLite's online backup API, in one step,
    /// then checks the copy. Safe while workers write: the step reads one snapshot (in WAL mode
    /// readers do not block writers, so workers go on committing meanwhile), a step that meets a
    /// lock waits and retries, and the copy is that snapshot. Not in steps of N pages: SQLite
    /// restarts a stepwise backup whenever another connection writes between two steps, so
    /// under steady writes (a busy queue) it could run for ever; measured with 1-page steps
    /// against one writer, it had not ended after 120 s (`BackupTests`). The file is written beside `path` and
    /// renamed into place only once it is complete and its check passed, so a failed backup
    /// never leaves a half-written or damaged file under that name.
    ///
    /// The check runs on the copy (no lock on the live file); since the backup API copies pages
    /// verbatim, a damaged copy means a damaged database.
    /// - Returns: the check's report (sound).
    /// - Throws: ``BackupCheckFailed`` when the copy has problems (kept as `<path>.corrupt`);
    ///   ``SQLiteError`` when the copy could not be made;
    ///   ``BackupTargetRefused`` when `path` is the database itself or a file beside it
    ///   (``backupTargetProblem(source:target:)``), or what is there may not be replaced
    ///   (``replaceProblem(at:)``), before anything is written; ``BackupNotPlaced`` when the
    ///   checked copy could not be put in place.
    @discardableResult
    public func backup(to path: String, check: IntegrityCheck = .full) throws -> IntegrityReport {
        if let problem = Self.backupTargetProblem(source: self.path, target: path) ?? Self.replaceProblem(at: path) {
            throw BackupTargetRefused(reason: problem)
        }
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
        var open = true
        defer { if open { sqlite3_close_v2(destination) } }
        do {
            try Self.copyPages(from: handle, to: destination, doing: "backup", path: path)
        } catch {
            unlink(temporary)
            throw error
        }
        let report = IntegrityReport(path: path, check: check, problems: Self.integrityProblems(destination, check))
        sqlite3_close_v2(destination)
        open = false
        let destinationPath = report.isSound ? path : path + ".corrupt"
        // The backup holds what the database holds: it gets the database's permissions, not
        // the umask's (a database kept 0600 would otherwise be copied readable by all).
        var sourceStat = stat()
        if stat(self.path, &sourceStat) == 0, chmod(temporary, sourceStat.st_mode & 0o777) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw BackupNotPlaced(message: "the copy was made but could not be given the database's mode (\(reason)); \(path) is unchanged")
        }
        guard rename(temporary, destinationPath) == 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            unlink(temporary)
            let owner = code == EPERM || code == EACCES
                ? " (a file of another user, in a folder where only its owner may replace it, such as /tmp)" : ""
            throw BackupNotPlaced(message: "the copy was made and checked, but could not replace \(destinationPath): \(reason)\(owner); "
                                  + "\(destinationPath) is unchanged; name another file")
        }
        guard report.isSound else {
            throw BackupCheckFailed(report: report, source: self.path, target: path, keptAt: destinationPath)
        }
        return report
    }
}
