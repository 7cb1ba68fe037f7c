import CSQLite
import Foundation
import YTAutoCore

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
                return "\(backup) failed SQLite's integrity_check with \(report.count), the first: \(report.problems[0])"
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

    /// What ``restore(backup:into:)`` did.
    public struct Restored: Sendable {
        /// `quick_check` of the database now in place.
        public let report: IntegrityReport
        /// Where the database as it was is kept, with its `-wal` beside it if it had one; nil
        /// when there was none.
        public let keptAt: String?
    }

    /// Puts the backup at `backup` in place of the database at `database`, without reading the
    /// database: it may be the damaged file the operator restores because of.
    ///
    /// The backup is written into a new file beside the database with SQLite's backup API
    /// (``backup(to:check:)``: a file of its own, checked with `quick_check`) and given the
    /// database's mode and owner, so workers that run as another user than the one restoring can
    /// still write it. Then the database and its `-wal` (or `-journal`) are renamed, as they are,
    /// to `DB.before-restore-TIME` (and `…-wal`), its `-shm` is removed, and the new file is renamed
    /// into place. No leftover log is ever replayed over the restored pages (copying the backup
    /// over the database did that: its indexes no longer matched its tables, or the newer state
    /// came back). Between the two renames there is no database at the path: a process that
    /// starts then is refused ("no database"), never given an empty one.
    ///
    /// The caller makes sure nothing uses the database. Symbolic links are followed: the file
    /// the link names is replaced, the link stays.
    /// - Throws: when the copy cannot be made or fails its check, or the new file cannot be given
    ///   the database's owner; the database is then untouched and no new file is left.
    public static func restore(backup: String, into database: String) throws -> Restored {
        let target = resolvedPath(database)
        let staged = target + ".restoring-\(getpid())"
        func removeStaged() {
            for file in [staged, staged + "-wal", staged + "-shm", staged + "-journal", staged + ".corrupt"] { unlink(file) }
        }
        removeStaged()
        var options = Options()
        options.readOnly = true
        do {
            try Connection(path: backup, options: options).backup(to: staged, check: .quick)
        } catch let failed as BackupCheckFailed {
            removeStaged()
            throw SQLiteError(extendedCode: SQLITE_CORRUPT, message: "restore: the copy of the backup failed its quick_check "
                              + "(\(failed.report.problems.first ?? "")); the database is untouched", path: database)
        } catch {
            removeStaged()
            throw error
        }
        var old = stat()
        var keptAt: String?
        if stat(target, &old) == 0 {
            if chmod(staged, old.st_mode & 0o7777) != 0 || chown(staged, old.st_uid, old.st_gid) != 0 {
                let reason = String(cString: strerror(errno))
                removeStaged()
                throw SQLiteError(extendedCode: SQLITE_PERM, message: "restore: cannot give the restored file the database's mode and "
                                  + "owner (uid \(old.st_uid), gid \(old.st_gid)): \(reason); run restore as that user or as root; "
                                  + "the database is untouched", path: database)
            }
            let kept = target + ".before-restore-" + Timestamp.string(Date()).replacingOccurrences(of: ":", with: "")
            guard rename(target, kept) == 0 else {
                let reason = String(cString: strerror(errno))
                removeStaged()
                throw SQLiteError(extendedCode: SQLITE_IOERR, message: "restore: cannot move the database aside to \(kept): \(reason); "
                                  + "the database is untouched", path: database)
            }
            keptAt = kept
            for suffix in ["-wal", "-journal"] where access(target + suffix, F_OK) == 0 {
                guard rename(target + suffix, kept + suffix) == 0 else {
                    let reason = String(cString: strerror(errno))
                    rename(kept, target)
                    removeStaged()
                    throw SQLiteError(extendedCode: SQLITE_IOERR, message: "restore: cannot move the database's \(suffix.dropFirst()) "
                                      + "file aside: \(reason); the database is untouched", path: database)
                }
            }
            unlink(target + "-shm")
        }
        guard rename(staged, target) == 0 else {
            let reason = String(cString: strerror(errno))
            throw SQLiteError(extendedCode: SQLITE_IOERR, message: "restore: cannot move the restored copy \(staged) into place: "
                              + "\(reason)" + (keptAt.map { "; the database as it was is \($0)" } ?? ""), path: database)
        }
        removeStaged()
        let folder = open((target as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            Glibc.close(folder)
        }
        return Restored(report: try check(path: target, .quick), keptAt: keptAt)
    }
}
