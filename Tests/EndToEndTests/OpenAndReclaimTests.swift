import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoSupport
import YTAutoTestSupport

/// How commands open the database, who frees a dead worker's jobs, and which worker may lease
/// which job: each against the real binaries.
@Suite struct OpenAndReclaimTests {
    let dir = TempDir("ytauto-open")
    var dbPath: String { dir.path("ytauto.db") }
    var env: [String: String] { ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("ytauto.yaml")] }

    func writeConfig() throws {
        try """
            channels:
              - name: facts
                topics: [octopuses, honey]
            """.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
    }

    /// A mistyped `--db` is an error naming the path; nothing is created, read or write.
    @Test func aMissingDatabaseIsAnErrorAndNothingIsCreated() async throws {
        try writeConfig()
        let missing = dir.path("typo.db")
        for (binary, args) in [("ytauto-admin", ["list-failed"]), ("ytauto", ["status"]), ("ytauto", ["enqueue", "facts"]),
                               ("ytauto-admin", ["history"]), ("ytauto", ["scheduler", "--once"]), ("ytauto", ["worker"])] {
            let r = try await run(binary, args + ["--db", missing], cwd: dir.url, environment: env)
            #expect(r.status == 1, "\(binary) \(args): \(r.stderr)")
            #expect(r.stderr.contains("no database at \(missing)") && r.stderr.contains("ytauto init"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: missing), "\(binary) \(args) created \(missing)")
        }
        let created = try await run("ytauto", ["init", "--db", missing], cwd: dir.url, environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try await run("ytauto-admin", ["list-failed", "--db", missing], cwd: dir.url, environment: env).status == 0)
    }

    /// Read commands do not wait for a writer: they answer while another connection holds the
    /// write lock (before, every command began by taking it to migrate, and waited up to 30 s).
    @Test func readCommandsAnswerWhileAWriterHoldsTheLock() async throws {
        let s = try SQLiteJobStore(path: dbPath)
        _ = try await s.enqueue(NewJob(channel: "facts"))
        let writer = try Connection(path: dbPath)
        try writer.execute("BEGIN IMMEDIATE; UPDATE jobs SET priority = 5;")
        for (binary, args) in [("ytauto", ["status"]), ("ytauto-admin", ["list-failed"]), ("ytauto-admin", ["history"]),
                               ("ytauto-admin", ["show", "1"]), ("ytauto-admin", ["workers"])] {
            let r = try await run(binary, args, cwd: dir.url, environment: env)
            #expect(r.status == 0, "\(binary) \(args): \(r.stderr)")
        }
        // The lock was held throughout: the writer still has its transaction open.
        #expect(writer.isInTransaction)
        try writer.execute("ROLLBACK")
    }

    /// A database of an older schema is not migrated behind the operator's back.
    @Test func anOlderSchemaAsksForMigrate() async throws {
        try writeConfig()
        let connection = try Connection(path: dbPath)
        try Migrator(migrations: Array(Migration.embedded.prefix(3))).migrate(connection)
        let r = try await run("ytauto", ["status"], cwd: dir.url, environment: env)
        #expect(r.status == 1)
        #expect(r.stderr.contains("schema version 3") && r.stderr.contains("ytauto-admin migrate"), "\(r.stderr)")
        let m = try await run("ytauto-admin", ["migrate"], cwd: dir.url, environment: env)
        #expect(m.status == 0 && m.stdout.contains("0004_run_history"), "\(m.stdout) \(m.stderr)")
        #expect(try await run("ytauto", ["status"], cwd: dir.url, environment: env).status == 0)
    }

    /// A diagnostic job left `running` by a worker process killed with SIGKILL, with no worker left.
    func aJobHeldByAKilledWorker() async throws -> (SQLiteJobStore, Int64) {
        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts", maxAttempts: 3, kind: .synthetic)).job.id
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "30000", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually { try await s.job(id: id)?.state == .running })
        worker.kill(SIGKILL)
        _ = await worker.wait()
        return (s, id)
    }

    /// A stage that runs past the worker's `--stage-timeout` is stopped and its attempt fails
    /// `stage.timeout` (retryable; here the job's last attempt), while the worker lives on: a hung
    /// stage never holds a job forever. A timeout out of range is refused before anything starts.
    @Test func aStagePastItsTimeoutIsStoppedAndTheAttemptFails() async throws {
        let refused = try await run("ytauto", ["worker", "--stage-timeout", "0s"], cwd: dir.url, environment: env)
        #expect(refused.status == 64 || refused.status == 2, "\(refused.status)")
        #expect(refused.stderr.contains("--stage-timeout") && refused.stderr.contains("1s to 7d"), "\(refused.stderr)")

        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts", maxAttempts: 1, kind: .synthetic)).job.id
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "600000", "--concurrency", "1", "--stage-timeout", "1s"],
                               cwd: dir.url, environment: env)
        defer { worker.kill(SIGKILL) }
        #expect(try await eventually { try await s.job(id: id)?.state == .failed })
        let job = try #require(try await s.job(id: id))
        #expect(job.lastErrorCode == "stage.timeout", "\(job)")
        #expect(job.lastErrorMessage?.contains("ran longer than 1s (the worker's --stage-timeout)") == true, "\(job.lastErrorMessage ?? "")")
        let runs = try await s.stageRuns(jobID: id)
        #expect(runs.count == 1 && runs.first?.state == .failed && runs.first?.errorCode == "stage.timeout", "\(runs)")
        #expect(worker.isRunning, "the worker lives on")
    }

    /// With every worker dead, `ytauto status` frees their jobs (as a worker's sweep would),
    /// and says so; `ytauto-admin workers` shows the worker dead.
    @Test func statusFreesTheJobsOfADeadWorkerWhenNoWorkerIsLeft() async throws {
        let (s, id) = try await aJobHeldByAKilledWorker()
        // Nothing runs a sweep now: the job would stay `running` until someone looks.
        #expect(try await s.job(id: id)?.state == .running)
        let status = try await run("ytauto", ["status"], cwd: dir.url, environment: env)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stderr.contains("freed the jobs of dead workers") && status.stderr.contains("queued again: jobs \(id)"), "\(status.stderr)")
        let job = try #require(try await s.job(id: id))
        #expect(job.state == .queued)
        let attempt = try #require(try await s.attempts(jobID: id).first)
        #expect(attempt.outcome == .lost && attempt.errorCode == "worker.lost")
        #expect(try await s.workers().first?.state == .dead)
        #expect(try await s.stageRuns(jobID: id).allSatisfy { $0.state != .running })
        let workers = try await run("ytauto-admin", ["workers", "--json"], cwd: dir.url, environment: env)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(workers.stdout.utf8)) as? [[String: Any]])
        #expect(rows.first?["state"] as? String == "dead", "\(workers.stdout)")
    }

    /// A user who may read the database but not open the worker's lock file (mode 0600, another
    /// user's) is not shown a dead worker as alive: the process table tells, `status` says it
    /// found a dead worker whose jobs it may not free, and `ytauto-admin workers` shows it dead.
    /// (The lock counted as held: no word, the job `running` at its stage.)
    @Test func aUserWhoMayNotOpenTheLockFileIsToldOfADeadWorker() async throws {
        let (s, id) = try await aJobHeldByAKilledWorker()
        let lock = try #require(try await s.workers().first?.lockPath)
        chmod(dir.url.path, 0o755)
        for file in [dbPath, dbPath + "-wal", dbPath + "-shm", dbPath + "-wake"] { chmod(file, 0o644) }
        chmod(lock, 0o600)
        let asNobody = getuid() == 0  // as another user, the lock file is this user's own
        let status = try await ReadOnlyPermissionsTests.runAsNobodyIfRoot("ytauto", ["status"], dir, env)
        #expect(status.status == 0, "\(status.stderr)")
        if asNobody {
            #expect(status.stderr.contains("found dead workers or expired leases but could not free their jobs"), "\(status.stderr)")
            let workers = try await ReadOnlyPermissionsTests.runAsNobodyIfRoot("ytauto-admin", ["workers", "--json"], dir, env)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(workers.stdout.utf8)) as? [[String: Any]], "\(workers.stderr)")
            #expect(rows.first?["state"] as? String == "dead", "\(workers.stdout)")
            #expect(try await s.job(id: id)?.state == .running, "nobody may write: the job is still to be freed")
        }
        // The database's owner frees it.
        let owner = try await run("ytauto", ["status"], cwd: dir.url, environment: env)
        #expect(owner.stderr.contains("queued again: jobs \(id)"), "\(owner.stderr)")
    }

    /// Removing `<db>-workers/` while a worker runs does not make it dead. A process that looks
    /// meanwhile (here while the worker is stopped with SIGSTOP, so it cannot mend anything first)
    /// sees the worker's process still running and leaves its job alone; once it runs again, its
    /// next sweep makes its lock file again, held, and logs it. Killed afterwards, it is found
    /// dead by that file as by the first.
    @Test func aLockFileRemovedFromUnderALiveWorkerDoesNotMakeItDead() async throws {
        try writeConfig()
        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts", maxAttempts: 3, kind: .synthetic)).job.id
        let log = dir.path("worker.log")
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "30000", "--concurrency", "1"],
                               cwd: dir.url, environment: env, outputFile: log)
        defer { worker.kill(SIGKILL) }
        #expect(try await eventually { try await s.job(id: id)?.state == .running })
        let lockPath = try #require(try await s.workers().first?.lockPath)
        worker.kill(SIGSTOP)
        try FileManager.default.removeItem(atPath: s.lockDirectory)
        let status = try await run("ytauto", ["status"], cwd: dir.url, environment: env)
        #expect(status.status == 0 && !status.stderr.contains("freed"), "\(status.stderr)")
        let workers = try await run("ytauto-admin", ["workers", "--json"], cwd: dir.url, environment: env)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(workers.stdout.utf8)) as? [[String: Any]])
        #expect(rows.first?["state"] as? String == "running", "\(workers.stdout)")
        #expect(try await s.reclaim().isEmpty)
        #expect(try await s.job(id: id)?.state == .running)
        worker.kill(SIGCONT)
        #expect(try await eventually(timeout: .seconds(10)) { WorkerLock.peek(path: lockPath) == .held })
        // The warning is written just after the file is made again: wait for it too.
        let warned = try await eventually(timeout: .seconds(10)) {
            (try? String(contentsOfFile: log, encoding: .utf8))?.contains("lock file \(lockPath) was removed while the worker ran") == true
        }
        #expect(warned, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(try await s.reclaim().isEmpty)
        #expect(try await s.job(id: id)?.state == .running)
        #expect(try await s.attempts(jobID: id).count == 1)
        #expect(try await s.workers().first?.state == .running)

        worker.kill(SIGKILL)
        _ = await worker.wait()
        let report = try await s.reclaim()
        #expect(report.deadWorkers.count == 1 && report.requeued == [id], "\(report)")
    }

    /// `ytauto-admin workers` frees them too, and shows the worker dead, not running.
    @Test func adminWorkersShowsADeadWorkerDeadAndFreesItsJobs() async throws {
        let (s, id) = try await aJobHeldByAKilledWorker()
        let r = try await run("ytauto-admin", ["workers"], cwd: dir.url, environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("queued again: jobs \(id)"), "\(r.stderr)")
        #expect(r.stdout.contains("dead") && !r.stdout.contains("running"), "\(r.stdout)")
        #expect(try await s.job(id: id)?.state == .queued)
    }

    /// The scheduler frees them too (`--once` and its long-running loop share the code).
    @Test func theSchedulerFreesTheJobsOfADeadWorker() async throws {
        try writeConfig()
        let (s, id) = try await aJobHeldByAKilledWorker()
        let r = try await run("ytauto", ["scheduler", "--once", "--log-format", "json"], cwd: dir.url, environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("freed the jobs of dead workers"), "\(r.stderr)")
        #expect(try await s.job(id: id)?.state == .queued)
    }

    /// A diagnostic worker (`--synthetic-stage-ms`) never finishes a channel's real job without a
    /// video, and every attempt says which pipeline ran it.
    @Test func aDiagnosticWorkerLeavesRealJobsAlone() async throws {
        try writeConfig()
        let s = try SQLiteJobStore(path: dbPath)
        let real = try await s.enqueue(NewJob(channel: "facts", topic: "octopuses")).job.id
        let e = try await run("ytauto", ["enqueue", "facts", "--synthetic", "--json"], cwd: dir.url, environment: env)
        #expect(e.status == 0, "\(e.stderr)")
        let enqueued = try #require(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        let diagnostic = try #require((enqueued["id"] as? NSNumber)?.int64Value)
        #expect(enqueued["kind"] as? String == "synthetic")
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "1", "--concurrency", "2"], cwd: dir.url, environment: env)
        // Wait for the diagnostic job to be done: the worker has leased everything it may lease by then.
        #expect(try await eventually { try await s.job(id: diagnostic)?.state == .succeeded })
        #expect(try await s.job(id: real)?.state == .queued)
        #expect(try await s.attempts(jobID: real).isEmpty)
        #expect(try await s.attempts(jobID: diagnostic).first?.pipeline == "synthetic 1 ms")
        worker.kill(SIGTERM)
        #expect(await worker.wait().status == 0)
        // A diagnostic worker reads no configuration: a channel no job has (a typo) is said, not
        // waited on in silence.
        let typo = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "1", "--channel", "fatcs"], cwd: dir.url, environment: env)
        #expect(try await eventually { try await s.workers().contains { $0.state == .running } })
        typo.kill(SIGTERM)
        let r = await typo.wait()
        #expect(r.status == 0 && r.stderr.contains("--channel fatcs: no job of that channel in the database yet")
                && r.stderr.contains("channels with jobs: facts"), "\(r.stderr)")
    }
}

/// Read commands on a read-only folder: a bind mount remounted read-only, which needs root
/// (as root, file permissions alone would not stop a write).
@Suite(.enabled(if: ReadOnlyMount.canMount, "a read-only bind mount needs root (CAP_SYS_ADMIN)"))
struct ReadOnlyFolderTests {
    @Test func everyReadCommandWorksOnAReadOnlyFolder() async throws {
        let dir = TempDir("ytauto-ro")
        let (folder, dbPath) = try await closedDatabaseWithAFailedJob(in: dir)
        let mount = try ReadOnlyMount(folder)
        defer { mount.unmount() }
        let env = ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("none.yaml")]
        for (binary, args) in [("ytauto", ["status"]), ("ytauto", ["status", "--json"]), ("ytauto-admin", ["list-failed"]),
                               ("ytauto-admin", ["show", "1"]), ("ytauto-admin", ["history"]), ("ytauto-admin", ["workers"]),
                               ("ytauto-admin", ["quota"]), ("ytauto-admin", ["slots"])] {
            let r = try await run(binary, args, cwd: dir.url, environment: env)
            #expect(r.status == 0, "\(binary) \(args): \(r.stderr)")
        }
        let failed = try await run("ytauto-admin", ["list-failed"], cwd: dir.url, environment: env)
        #expect(failed.stdout.contains("x.bad"), "\(failed.stdout)")
        // A write says what is wrong.
        let write = try await run("ytauto-admin", ["retry", "1"], cwd: dir.url, environment: env)
        #expect(write.status == 1 && write.stderr.contains("cannot be written") && write.stderr.contains(folder), "\(write.stderr)")
    }

    /// ffmpeg that may not write its output (a read-only folder; as root, a read-only mount) fails
    /// as a stage's own file would, `media.file`, retried once the folder is fixed; it was
    /// `ffmpeg.failed`, which is not retried, for the very same cause.
    @Test func ffmpegThatMayNotWriteFailsAsAFileProblemAndIsRetried() async throws {
        let dir = TempDir("ytauto-ro-ffmpeg")
        let folder = dir.path("work")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let mount = try ReadOnlyMount(folder)
        defer { mount.unmount() }
        let error = await #expect(throws: FFmpegError.self) {
            try await ToolRunner().run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "anullsrc", "-t", "0.1", folder + "/a.wav"])
        }
        #expect(error?.code == "media.file" && error?.isRetryable == true, "\(String(describing: error))")
        #expect(error?.message.contains("may not write or open a file it needs") == true && error?.message.contains(folder + "/a.wav") == true,
                "\(error?.message ?? "")")
    }
}

/// Read commands on a folder and database the user may not write, by its permissions: another
/// user's data, as an operator looking at the service's database from a login account. As root
/// (CI) the commands run as `nobody` through setpriv; as another user, as that user.
@Suite struct ReadOnlyPermissionsTests {
    @Test func everyReadCommandWorksOnAFolderTheUserMayNotWrite() async throws {
        let dir = TempDir("ytauto-perm")
        let (folder, dbPath) = try await closedDatabaseWithAFailedJob(in: dir)
        chmod(dir.url.path, 0o755)
        chmod(dbPath, 0o444)
        chmod(dbPath + "-wake", 0o444)
        chmod(folder, 0o555)
        defer { chmod(folder, 0o755) }
        let env = ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("none.yaml")]
        func read(_ name: String, _ args: [String]) async throws -> ProcessResult { try await Self.runAsNobodyIfRoot(name, args, dir, env) }
        for (name, args) in [("ytauto", ["status"]), ("ytauto-admin", ["list-failed"]), ("ytauto-admin", ["show", "1"]),
                             ("ytauto-admin", ["history"]), ("ytauto-admin", ["workers"]), ("ytauto-admin", ["slots"]),
                             ("ytauto-admin", ["check"])] {
            let r = try await read(name, args)
            #expect(r.status == 0, "\(name) \(args): \(r.stderr)")
        }
        #expect(try await read("ytauto-admin", ["list-failed"]).stdout.contains("x.bad"))
        #expect(!FileManager.default.fileExists(atPath: dbPath + "-wal"))
    }
}

extension ReadOnlyPermissionsTests {
    /// Runs one of our binaries as `nobody` (through setpriv) when the tests run as root, else as this user.
    static func runAsNobodyIfRoot(_ name: String, _ args: [String], _ dir: TempDir, _ env: [String: String]) async throws -> ProcessResult {
        guard getuid() == 0 else { return try await run(name, args, cwd: dir.url, environment: env) }
        return try await Child(URL(fileURLWithPath: "/usr/bin/setpriv"),
                               ["--reuid=65534", "--regid=65534", "--clear-groups", binary(name).path] + args,
                               cwd: dir.url, environment: env).wait()
    }

    /// A backup into a folder the user may not write says so (SQLite said "unable to open
    /// database file", naming neither the folder nor the permission).
    @Test func aBackupIntoAFolderTheUserMayNotWriteSaysSo() async throws {
        let dir = TempDir("ytauto-perm-backup")
        let (folder, dbPath) = try await closedDatabaseWithAFailedJob(in: dir)
        chmod(dir.url.path, 0o755)
        chmod(folder, 0o755)
        let locked = dir.path("locked")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        chmod(locked, 0o555)
        defer { chmod(locked, 0o755) }
        let env = ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("none.yaml")]
        let r = try await Self.runAsNobodyIfRoot("ytauto-admin", ["backup", locked + "/copy.db"], dir, env)
        #expect(r.status == 1 && r.stderr.contains("backup refused: \(locked)/copy.db: its folder \(locked) is not writable by this user (Permission denied)"),
                "\(r.stdout)\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: locked).isEmpty)
    }

    /// A read-only command on a database its owner made read-only leaves `-wal` and `-shm` with
    /// the file's mode; once the file is writable again, a write still fails, and the error names
    /// the `-shm` (it named only the database, which was writable by then).
    @Test func aWriteRefusedForALeftoverReadOnlyShmNamesIt() async throws {
        let dir = TempDir("ytauto-perm-shm")
        let (folder, dbPath) = try await closedDatabaseWithAFailedJob(in: dir)
        let asRoot = getuid() == 0
        if asRoot {
            for path in [dir.url.path, folder, dbPath, dbPath + "-wake"] { chown(path, 65534, 65534) }
        }
        chmod(dir.url.path, 0o755)
        let env = ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("none.yaml")]
        func command(_ name: String, _ args: [String]) async throws -> ProcessResult { try await Self.runAsNobodyIfRoot(name, args, dir, env) }
        chmod(dbPath, 0o444)
        #expect(try await command("ytauto", ["status"]).status == 0)
        var shm = stat()
        try #require(stat(dbPath + "-shm", &shm) == 0, "the read-only status left no -shm: nothing to test")
        #expect(shm.st_mode & 0o777 == 0o444)
        chmod(dbPath, 0o644)
        let write = try await command("ytauto-admin", ["retry", "1"])
        #expect(write.status == 1 && write.stderr.contains("this user cannot write \(dbPath)-shm (mode 0444"), "\(write.stderr)")
        #expect(!write.stderr.contains("cannot write \(dbPath) ("), "the database itself is writable: \(write.stderr)")
    }
}

/// `<dir>/data/ytauto.db` with one job failed `x.bad`, its store closed: no -wal file is left, so
/// SQLite cannot make one in a folder it may not write. The connection closes on the store's own
/// thread once the last reference goes, so on a busy machine that can come a moment after.
func closedDatabaseWithAFailedJob(in dir: TempDir) async throws -> (folder: String, dbPath: String) {
    let folder = dir.path("data")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let dbPath = folder + "/ytauto.db"
    do {
        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts")).job.id
        let lease = try #require(try await s.lease(worker: "w", channels: nil, duration: .seconds(30)))
        _ = try await s.fail(lease, error: JobFailure(code: "x.bad", message: "bad", isRetryable: false))
        #expect(try await s.job(id: id)?.state == .failed)
    }
    #expect(await eventually(timeout: .seconds(30)) { !FileManager.default.fileExists(atPath: dbPath + "-wal") })
    return (folder, dbPath)
}

/// A folder bind-mounted onto itself, then remounted read-only.
struct ReadOnlyMount {
    let path: String

    init(_ path: String) throws {
        guard SmallDisk.command("/bin/mount", ["--bind", path, path]) else { throw SmallDiskError("cannot bind-mount \(path)") }
        guard SmallDisk.command("/bin/mount", ["-o", "remount,bind,ro", path]) else {
            _ = SmallDisk.command("/bin/umount", ["-l", path])
            throw SmallDiskError("cannot remount \(path) read-only")
        }
        self.path = path
    }

    func unmount() { _ = SmallDisk.command("/bin/umount", ["-l", path]) }

    static var canMount: Bool { SmallDisk.mode == .mount }
}
