import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport

/// `ytauto-admin backup` and `check` on a real database file whose middle pages were
/// overwritten with garbage, as a failing disk or a stray write would leave it.
@Suite struct DatabaseCheckTests {
    let dir = TempDir("ytauto-dbcheck")
    var dbPath: String { dir.path("ytauto.db") }
    var env: [String: String] { ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("ytauto.yaml")] }

    func admin(_ args: String...) async throws -> ProcessResult { try await run("ytauto-admin", args, cwd: dir.url, environment: env) }

    /// A database of some hundreds of pages, its WAL folded into the main file.
    func makeDatabase() async throws {
        let initResult = try await run("ytauto", ["init"], cwd: dir.url, environment: env)
        #expect(initResult.status == 0, "\(initResult.stderr)")
        let store = try SQLiteJobStore(path: dbPath)
        let filler = String(repeating: "lorem ipsum ", count: 40)
        for i in 0..<600 {
            _ = try await store.enqueue(NewJob(channel: "facts", topic: "topic \(i)", options: ["note": "\(i) \(filler)"]))
        }
        try Connection(path: dbPath).execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Overwrites four pages in the middle of the file with bytes that are no b-tree page.
    func corrupt() throws {
        let size = try #require(try FileManager.default.attributesOfItem(atPath: dbPath)[.size] as? Int)
        #expect(size > 100 * 4096, "\(size) bytes: too small to have a middle")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dbPath))
        defer { try? handle.close() }
        var rng = SplitMix64(text: "garbage")
        try handle.seek(toOffset: UInt64(size / 2 / 4096 * 4096))
        try handle.write(contentsOf: Data((0..<(4 * 4096)).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        try handle.synchronize()
    }

    /// Jobs by state, read through a read-only connection closed at once: restore refuses while
    /// any process (this one included) has the database open, and a read-only connection never
    /// folds a -wal that a killed process left into the file as it closes.
    func states(_ path: String) throws -> [String: Int] {
        var options = Connection.Options()
        options.readOnly = true
        let db = try Connection(path: path, options: options)
        var out: [String: Int] = [:]
        for row in try db.query("SELECT state, count(*) AS n FROM jobs GROUP BY state") { out[row.string("state") ?? "?"] = row.int("n").map(Int.init) }
        return out
    }

    func sha256(_ path: String) throws -> String { try Checksum.sha256Hex(fileAt: URL(fileURLWithPath: path)).0 }

    @Test func aSoundDatabaseChecksAndBacksUpOK() async throws {
        try await makeDatabase()
        let check = try await admin("check")
        #expect(check.status == 0 && check.stdout.contains("integrity_check ok"), "\(check.stdout)\(check.stderr)")
        #expect(try await admin("check", "--quick").stdout.contains("quick_check ok"))
        let backup = try await admin("backup", dir.path("copy.db"))
        #expect(backup.status == 0 && backup.stdout.contains("integrity_check of the copy: ok"), "\(backup.stdout)\(backup.stderr)")
        #expect(try Connection.check(path: dir.path("copy.db"), .full).isSound)
        let missing = try await run("ytauto-admin", ["check", "--db", dir.path("no-such.db")], cwd: dir.url, environment: env)
        #expect(missing.status == 1 && missing.stderr.contains("no database at \(dir.path("no-such.db"))"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("no-such.db")))
    }

    @Test func corruptPagesAreReportedAndTheCopyIsNotLeftAsIfGood() async throws {
        try await makeDatabase()
        // Last night's backup, good.
        let good = dir.path("backup.db")
        #expect(try await admin("backup", good).status == 0)
        let goodHash = try sha256(good)
        try corrupt()

        let check = try await admin("check")
        #expect(check.status == 1, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("integrity_check found") && check.stdout.lowercased().contains("page"), "\(check.stdout)")
        #expect(check.stderr.contains("damaged pages"), "\(check.stderr)")
        let quick = try await admin("check", "--quick", "--json")
        #expect(quick.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(quick.stdout.utf8)) as? [String: Any])
        #expect(json["ok"] as? Bool == false && json["check"] as? String == "quick_check")
        #expect((json["problems"] as? [String])?.isEmpty == false)
        // One problem a line, counted as listed (SQLite packs several into one row, which was "1 problem(s)" over 100 lines).
        #expect((json["problems"] as? [String])?.allSatisfy { !$0.contains("\n") } == true, "\(json)")
        let header = try #require(check.stdout.split(separator: "\n").first { $0.contains("integrity_check found") })
        let listed = check.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }.count
        #expect(header.contains("found \(listed) problem(s):") || (listed >= 100 && header.contains("at least \(listed) problems")), "\(check.stdout)")

        let backup = try await admin("backup", good)
        #expect(backup.status == 1, "\(backup.stdout)\(backup.stderr)")
        #expect(!backup.stdout.contains("backed up"))
        #expect(backup.stderr.contains("failed SQLite's integrity_check") && backup.stderr.contains("kept as \(good).corrupt"), "\(backup.stderr)")
        // The good backup is untouched; the suspect copy is under a name that says so, and is what the file is.
        #expect(try sha256(good) == goodHash)
        #expect(try Connection.check(path: good, .full).isSound)
        #expect(try !Connection.check(path: good + ".corrupt", .full).isSound)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains(".partial-") }
        #expect(left.isEmpty, "\(left)")
        // A first backup to a new name leaves nothing under that name either.
        #expect(try await admin("backup", dir.path("fresh.db")).status == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.path("fresh.db")))
        #expect(FileManager.default.fileExists(atPath: dir.path("fresh.db.corrupt")))
    }

    /// A backup's target that is the live database under any name, or a file SQLite or ytauto
    /// keeps beside it, is refused before anything is written: renamed over the database, the copy
    /// would take the name from under the workers' open connections, and what they commit after
    /// would go to a file nobody opens again.
    /// `restore` puts a backup in place even over the log a killed worker left (copying the file
    /// there made SQLite replay that log over it: damaged indexes, or the newer state back),
    /// keeps the database as it was beside it, and refuses, changing nothing, while a worker has
    /// the database open, or when the backup is not a sound ytauto database.
    @Test func aBackupIsRestoredOverALeftoverLogAndNeverWhileInUse() async throws {
        func enqueue(_ topic: String) async throws {
            let r = try await run("ytauto", ["enqueue", "facts", "--synthetic", "--topic", topic], cwd: dir.url, environment: env)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let initResult = try await run("ytauto", ["init"], cwd: dir.url, environment: env)
        #expect(initResult.status == 0, "\(initResult.stderr)")
        for i in 0..<3 { try await enqueue("kept \(i)") }
        let backup = dir.path("backup.db")
        #expect(try await admin("backup", backup).status == 0)
        for i in 0..<20 { try await enqueue("later \(i)") }
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "5", "--concurrency", "4"], cwd: dir.url, environment: env)
        defer { worker.kill(SIGKILL) }
        #expect(try await eventually { try states(dbPath)["succeeded", default: 0] >= 5 })

        let busy = try await admin("restore", backup)
        #expect(busy.status == 1 && busy.stderr.contains("in use by") && busy.stderr.contains("pid \(worker.pid) ("), "\(busy.stdout)\(busy.stderr)")
        worker.kill(SIGKILL)
        _ = await worker.wait()
        #expect(try states(dbPath).values.reduce(0, +) == 23)
        let log = try FileManager.default.attributesOfItem(atPath: dbPath + "-wal")[.size] as? Int ?? 0
        #expect(log > 0, "the killed worker left a log")

        let restored = try await admin("restore", backup)
        #expect(restored.status == 0 && restored.stdout.contains("quick_check ok"), "\(restored.stdout)\(restored.stderr)")
        let check = try await admin("check")
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(try states(dbPath) == ["queued": 3])
        let saved = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).first { $0.hasPrefix("ytauto.db.before-restore-") && !$0.hasSuffix("-wal") })
        #expect(try states(dir.path(saved)).values.reduce(0, +) == 23)

        // Not a backup: refused, the database untouched.
        let stranger = dir.path("stranger.db")
        try Connection(path: stranger).execute("CREATE TABLE notes (x TEXT)")
        try Data("not a database at all".utf8).write(to: URL(fileURLWithPath: dir.path("text.db")))
        for (file, says) in [(stranger, "is not a ytauto database"), (dir.path("text.db"), "integrity_check"),
                             (dbPath, "is the database itself"), (dir.path("none.db"), "no file at")] {
            let r = try await admin("restore", file)
            #expect(r.status == 1 && r.stderr.contains("restore refused") && r.stderr.contains(says), "\(file): \(r.stderr)")
        }
        #expect(try states(dbPath) == ["queued": 3])
    }

    /// `restore` is what an operator reaches for when the database is damaged, so it must work
    /// without reading the damaged file: the backup is written into a new file beside it, checked,
    /// and renamed into place; the damaged file (and its `-wal`) are kept, as they were, under
    /// `DB.before-restore-TIME`. The restored file keeps the old one's mode and owner, so workers
    /// running as another user than the operator who restores can still write it.
    @Test(arguments: ["pages", "header"]) func aBackupIsRestoredOverADamagedDatabase(damage: String) async throws {
        try await makeDatabase()
        let backup = dir.path("backup.db")
        #expect(try await admin("backup", backup).status == 0)
        // A job run after the backup by a worker killed later: what it wrote is left in the -wal.
        #expect(try await run("ytauto", ["enqueue", "facts", "--synthetic", "--topic", "late"], cwd: dir.url, environment: env).status == 0)
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "5"], cwd: dir.url, environment: env)
        defer { worker.kill(SIGKILL) }
        #expect(try await eventually { try states(dbPath)["succeeded"] == 1 })
        worker.kill(SIGKILL)
        _ = await worker.wait()
        if damage == "pages" {
            try corrupt()
        } else {
            // The file's header, and the log's (else a newer first page in the log hides the damage).
            for (file, count) in [(dbPath, 100), (dbPath + "-wal", 32)] {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
                try handle.write(contentsOf: Data(repeating: 0x41, count: count))
                try handle.close()
            }
        }
        let damagedHash = try sha256(dbPath)
        let log = try #require(try FileManager.default.attributesOfItem(atPath: dbPath + "-wal")[.size] as? Int)
        #expect(log > 0)
        chmod(dbPath, 0o640)
        let owner: uid_t = getuid() == 0 ? 65534 : getuid()
        if getuid() == 0 { chown(dbPath, owner, getgid()) }
        let damaged = try await admin("check")
        #expect(damaged.status == 1, "\(damaged.stdout)\(damaged.stderr)")

        let restored = try await admin("restore", backup)
        #expect(restored.status == 0 && restored.stdout.contains("quick_check ok"), "\(restored.stdout)\(restored.stderr)")
        #expect(try await admin("check").status == 0)
        #expect(try states(dbPath) == ["queued": 600])
        let attributes = try FileManager.default.attributesOfItem(atPath: dbPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o640)
        #expect((attributes[.ownerAccountID] as? Int).map(UInt32.init) == owner)
        // The damaged file is kept whole, with the -wal that held the later job.
        let saved = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.url.path)
            .first { $0.hasPrefix("ytauto.db.before-restore-") && !$0.hasSuffix("-wal") })
        #expect(try sha256(dir.path(saved)) == damagedHash)
        #expect(FileManager.default.fileExists(atPath: dir.path(saved) + "-wal"))
        #expect(restored.stdout.contains(saved), "\(restored.stdout)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains(".restoring-") || $0.contains(".partial-") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func aBackupOntoTheDatabaseOrAFileBesideItIsRefused() async throws {
        try await makeDatabase()
        let worker = try SQLiteJobStore(path: dbPath)  // a worker's open connection, as while workers run
        _ = try await worker.enqueue(NewJob(channel: "facts", topic: "before"))
        try FileManager.default.createDirectory(atPath: dir.path("sub"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path("link.db"), withDestinationPath: dbPath)
        try FileManager.default.linkItem(atPath: dbPath, toPath: dir.path("hard.db"))
        let targets: [(String, String)] = [
            (dbPath, "is the database itself"),
            (dir.path("sub") + "/../ytauto.db", "is the database itself"),
            (dir.path("link.db"), "is the database itself"),
            (dir.path("hard.db"), "is the database itself"),
            (dbPath + "-wal", "is the database's wal file"),
            (dbPath + "-shm", "is the database's shm file"),
            (dbPath + "-journal", "is the database's journal file"),
            (dbPath + "-wake", "is the database's wake file"),
            (dir.path("sub"), "is a folder"),
            (dbPath + "-workers", "is the database's workers folder, which ytauto keeps beside it; name a backup file elsewhere"),
        ]
        try FileManager.default.createDirectory(atPath: dbPath + "-workers", withIntermediateDirectories: true)
        // No path, and a folder that is not there: said plainly (SQLite said "disk I/O error" and "unable to open").
        let empty = try await admin("backup", "")
        #expect(empty.status == 1 && empty.stderr.contains("backup refused: the backup's path is empty"), "\(empty.stderr)")
        let nowhere = try await admin("backup", dir.path("missing/copy.db"))
        #expect(nowhere.status == 1 && nowhere.stderr.contains("backup refused: \(dir.path("missing/copy.db")): its folder \(dir.path("missing")) does not exist"), "\(nowhere.stderr)")
        for (target, reason) in targets {
            let backup = try await admin("backup", target)
            #expect(backup.status == 1 && !backup.stdout.contains("backed up"), "\(target): \(backup.stdout)\(backup.stderr)")
            #expect(backup.stderr.contains("backup refused: \(target) \(reason)"), "\(target): \(backup.stderr)")
        }
        // What the worker commits afterwards is in the database that the next connection opens.
        _ = try await worker.enqueue(NewJob(channel: "facts", topic: "after"))
        let reader = try SQLiteJobStore(path: dbPath)
        #expect(try await reader.stats().byState.values.reduce(0, +) == 602)
        #expect(try Connection.check(path: dbPath, .full).isSound)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains(".partial-") || $0.hasSuffix(".corrupt") }
        #expect(left.isEmpty, "\(left)")
        // A sound target beside them still works.
        #expect(try await admin("backup", dir.path("sub/copy.db")).status == 0)
    }

    /// The backup is renamed over what is at its path, so only a plain file that no database
    /// log goes with may be there: a pipe or device became a plain file (as root, /dev/null
    /// did), a link was replaced rather than written through, and a database in use (or left
    /// open by a killed process) was damaged when its `-wal` was read into the backup, which
    /// was reported sound. And the backup keeps the database's mode, not the umask's.
    @Test func aBackupReplacesOnlyAPlainFileWithNoLogBesideIt() async throws {
        try await makeDatabase()
        // Another database, in use: its -wal is there while it is open.
        let otherPath = dir.path("other.db")
        let other = try SQLiteJobStore(path: otherPath)
        _ = try await other.enqueue(NewJob(channel: "facts", topic: "the other's"))
        #expect(FileManager.default.fileExists(atPath: otherPath + "-wal"))
        let pipe = dir.path("pipe")
        #expect(mkfifo(pipe, 0o644) == 0)
        let earlier = dir.path("earlier.db")
        #expect(try await admin("backup", earlier).status == 0)
        let earlierHash = try sha256(earlier)
        try FileManager.default.createSymbolicLink(atPath: dir.path("latest.db"), withDestinationPath: earlier)
        // A database whose process died with commits in its -wal (nothing has it open now).
        let dead = dir.path("dead.db")
        let live = try SQLiteJobStore(path: dir.path("live.db"))
        _ = try await live.enqueue(NewJob(channel: "facts", topic: "in the log"))
        for suffix in ["", "-wal"] { try FileManager.default.copyItem(atPath: dir.path("live.db") + suffix, toPath: dead + suffix) }
        let deadLog = try #require(try FileManager.default.attributesOfItem(atPath: dead + "-wal")[.size] as? Int)
        #expect(deadLog > 0)
        // A file another program has open (a log being written), not a database.
        let openLog = dir.path("ytauto.log")
        #expect(FileManager.default.createFile(atPath: openLog, contents: Data("a log line\n".utf8)))
        let logHandle = try #require(FileHandle(forWritingAtPath: openLog))
        defer { try? logHandle.close() }
        let refusals: [(String, String)] = [
            (openLog, "\(openLog) is open in pid \(getpid()) ("),
            (dead, "\(dead)-wal (\(deadLog) bytes) is beside \(dead): a log a process left without closing"),
            (otherPath, "\(otherPath) is a database in use by pid \(getpid()) ("),
            (pipe, "\(pipe) is not a plain file (a device, pipe or socket)"),
            (dir.path("latest.db"), "\(dir.path("latest.db")) is a symbolic link (to \(earlier)); the backup would replace the link"),
        ]
        for (target, reason) in refusals {
            let backup = try await admin("backup", target)
            #expect(backup.status == 1 && backup.stderr.contains("backup refused: \(reason)"), "\(target): \(backup.stdout)\(backup.stderr)")
        }
        // Each is as it was: the other database sound with its job, the pipe a pipe, the link a link.
        #expect(try await other.stats().byState[.queued] == 1)
        #expect(try Connection.check(path: otherPath, .full).isSound)
        var info = stat()
        #expect(lstat(pipe, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(lstat(dir.path("latest.db"), &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(try sha256(earlier) == earlierHash)
        // A database kept private is backed up private.
        chmod(dbPath, 0o600)
        #expect(try await admin("backup", dir.path("private.db")).status == 0)
        #expect(stat(dir.path("private.db"), &info) == 0 && info.st_mode & 0o777 == 0o600, "mode \(String(info.st_mode & 0o777, radix: 8))")
        // A read-only look at a backup leaves no reason to refuse the next backup there.
        #expect(try await admin("check", "--db", dir.path("private.db")).status == 0)
        let again = try await admin("backup", dir.path("private.db"))
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
    }
}
