import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoSupport
import YTAutoTestSupport

/// A real full disk: a small tmpfs, filled up while a `ytauto worker` process runs a job.
/// Mounting needs CAP_SYS_ADMIN: as root (CI) the tests mount directly; as anyone else each test
/// runs again in a child test process inside a user and mount namespace of its own (`unshare
/// -rm`), where it is root and may mount, and its worker processes with it. Where neither
/// works the tests are skipped and say why — except in CI (`CI` set), where they fail instead,
/// so CI is never green with them unrun.
@Suite(.enabled(if: SmallDisk.mode != nil || ProcessInfo.processInfo.environment["CI"] != nil,
                "mounting a small tmpfs needs root or unprivileged user namespaces (unshare -rm)"))
struct FullDiskTests {
    /// The database's disk fills up in the middle of a job. The worker reports it (naming the
    /// file and saying the disk is full), commits nothing half-written, keeps running, and once
    /// space is freed the job is taken up again and finishes without redoing finished stages.
    @Test func aFullDiskUnderTheDatabaseLosesNothingAndTheJobFinishesOnceThereIsSpace() async throws {
        guard try await SmallDisk.runsHere("aFullDiskUnderTheDatabaseLosesNothingAndTheJobFinishesOnceThereIsSpace") else { return }
        let dir = TempDir("ytauto-fulldisk")
        // Room for the WAL, which grows to about 40 MB between checkpoints (every 10,000 pages):
        // on a 4 MB disk it filled the disk by itself before the test did.
        let disk = try SmallDisk(at: dir.path("disk"), bytes: 64 << 20)
        defer { disk.unmount() }
        let dbPath = disk.path("ytauto.db")
        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "space", maxAttempts: 5, kind: .synthetic)).job.id
        let worker = try Child(binary("ytauto"),
                               ["worker", "--synthetic-stage-ms", "3000", "--concurrency", "1", "--lease-seconds", "3"],
                               cwd: dir.url, environment: ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("ytauto.yaml")])

        // Once the first stage is done, fill the disk while the job still runs. The watch and the
        // fill run on a thread of their own: a test process whose cooperative threads are busy
        // with other tests would otherwise see the window (six stages of 3 s) late or not at all.
        let filler = try #require(try await watch(dbPath, until: """
            SELECT (SELECT state FROM jobs WHERE id = ?1) = 'running'
               AND (SELECT count(*) FROM job_stages WHERE job_id = ?1 AND state = 'succeeded') >= 1
            """, [id], timeout: 60, then: disk.fill), "the first stage of job \(id) never finished while the job ran")
        let stagesWhenFull = try await s.stages(jobID: id)
        // Under a loaded test run the fill may land a stage or two later: what matters is that the
        // first stage was done and the job was not, so it must resume without redoing the first.
        try #require(stagesWhenFull.count >= 2 && (stagesWhenFull.count < 7 || stagesWhenFull.last?.state == .running),
                     "the disk filled during the job, after its first stage: \(stagesWhenFull.map { "\($0.stage) \($0.state)" })")

        // The worker cannot record the next stage; its lease runs out while the disk is full.
        #expect(try await eventually(timeout: .seconds(30)) {
            guard let job = try await s.job(id: id), let expires = job.leaseExpiresAt else { return false }
            return job.state == .running && expires < Date().addingTimeInterval(-1)
        })
        // Reading still works: operators can see what ran.
        let status = try await run("ytauto", ["status", "--json"], cwd: dir.url, environment: ["YTAUTO_DB": dbPath])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("\"running\""))

        try FileManager.default.removeItem(atPath: filler)
        #expect(try await eventually(timeout: .seconds(60)) { try await s.job(id: id)?.state == .succeeded })

        worker.kill(SIGTERM)
        let r = await worker.wait()
        #expect(r.status == 0, "the worker kept running through the full disk: \(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("the disk is full; free space"), "\(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("[database: \(dbPath)]"))
        // The sweep (every 250 ms, some two dozen times while the disk was full) reports a
        // lasting failure once per distinct error, and its end.
        let sweepErrors = r.stderr.components(separatedBy: "sweep failed").count - 1
        #expect((1...3).contains(sweepErrors), "\(r.stderr.suffix(3000))")
        #expect(r.stderr.contains("sweep works again"))

        // Exactly one attempt succeeded; the one the full disk cut short is recorded as lost.
        let attempts = try await s.attempts(jobID: id)
        #expect(attempts.filter { $0.outcome == .succeeded }.count == 1)
        #expect(attempts.first?.outcome == .lost)
        // The stage finished before the disk filled was not run again.
        let stages = try await s.stages(jobID: id)
        #expect(stages.count == 7 && stages.allSatisfy { $0.state == .succeeded })
        #expect(stages.first { $0.stage == "script" }?.attempt == 1)
        #expect(stages.first { $0.stage == "publish" }?.attempt == attempts.last?.attempt)
        let check = try Connection(path: dbPath, options: { var o = Connection.Options(); o.readOnly = true; return o }())
        #expect(try check.queryOne("PRAGMA integrity_check")?.string("integrity_check") == "ok")
    }
}

    /// A disk already full when a command starts: `init` and a worker whose `-wake` file must be
    /// made then fail with the disk's error, and never crash (the wake file was mapped with its
    /// length set but no blocks, and its first touch was SIGBUS, exit 135).
    @Test func aDiskFullBeforeTheStartIsAnErrorNotACrash() async throws {
        guard try await SmallDisk.runsHere("aDiskFullBeforeTheStartIsAnErrorNotACrash") else { return }
        let dir = TempDir("ytauto-fullstart")
        let disk = try SmallDisk(at: dir.path("disk"), bytes: 1 << 20)
        defer { disk.unmount() }
        let env = ["YTAUTO_DB": disk.path("ytauto.db"), "YTAUTO_CONFIG": dir.path("ytauto.yaml")]
        let made = try await run("ytauto", ["init"], cwd: dir.url, environment: env)
        #expect(made.status == 0, "\(made.stderr)")
        try FileManager.default.removeItem(atPath: disk.path("ytauto.db-wake"))
        // The log folded into the file, as a last connection closing leaves it. (A process that
        // exits without closing can leave writes in the -wal: then reads on a full disk say the
        // disk is full, since SQLite cannot read the -wal without a -shm it cannot make.)
        try Connection(path: disk.path("ytauto.db")).execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try? FileManager.default.removeItem(atPath: disk.path("ytauto.db-wake"))
        _ = try disk.fill()
        // Reads keep working on a full disk, with nothing running.
        for args in [["status"], ["status", "--json"]] {
            let r = try await run("ytauto", args, cwd: dir.url, environment: env)
            #expect(r.status == 0, "\(args): \(r.stdout)\(r.stderr)")
        }
        for args in [["list-failed"], ["history"], ["check"]] {
            let r = try await run("ytauto-admin", args, cwd: dir.url, environment: env)
            #expect(r.status == 0, "\(args): \(r.stdout)\(r.stderr)")
        }
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "1"], cwd: dir.url, environment: env)
        defer { worker.kill(SIGKILL) }
        try await Task.sleep(for: .seconds(2))
        worker.kill(SIGTERM)
        let stopped = await worker.wait()
        #expect(stopped.status != 128 + SIGBUS && stopped.status != 128 + SIGSEGV, "crashed: \(stopped.status) \(stopped.stderr)")
        let again = try await run("ytauto", ["init", "--db", disk.path("other.db")], cwd: dir.url, environment: env)
        #expect(again.status == 1, "\(again.status) \(again.stderr)")
        #expect(again.stderr.lowercased().contains("full"), "\(again.stderr)")
        // Nothing half-made is left to read later as a database "at schema version 0".
        let left = try FileManager.default.contentsOfDirectory(atPath: disk.mountPoint).filter { $0.hasPrefix("other.db") }
        #expect(left.isEmpty, "\(left)")
    }

extension FullDiskTests {
    /// The render's working folder fills up: the stage fails with an error that says so and
    /// where, the job ends `failed` with it (no half-written artifact recorded), and a retry
    /// once there is space finishes the video without making the finished stages again.
    @Test func aFullWorkFolderFailsTheStageClearlyAndARetryKeepsTheFinishedStages() async throws {
        guard try await SmallDisk.runsHere("aFullWorkFolderFailsTheStageClearlyAndARetryKeepsTheFinishedStages") else { return }
        let dir = TempDir("ytauto-fullwork")
        let disk = try SmallDisk(at: dir.path("work"), bytes: 6 << 20)
        defer { disk.unmount() }
        // The output folder is full from the start: found only at publish.
        let output = try SmallDisk(at: dir.path("published"), bytes: 1 << 20)
        defer { output.unmount() }
        _ = try output.fill()
        let env = ["YTAUTO_DB": dir.path("ytauto.db"), "YTAUTO_CONFIG": dir.path("ytauto.yaml")]
        try """
            output_dir: ./published
            work_dir: ./work
            channels:
              - name: facts
                format: short
                duration: {min: 2, max: 14}
            """.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let s = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "the deepest hole ever dug", maxAttempts: 1)).job.id

        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state.isFinished == true })
        let failed = try #require(try await s.job(id: id))
        #expect(failed.state == .failed)
        #expect(failed.lastErrorCode == "media.disk_full")
        let message = failed.lastErrorMessage ?? ""
        #expect(message.contains("the disk is full") && message.contains("No space left on device"), "\(message)")
        #expect(message.contains(disk.mountPoint), "the error names the file: \(message)")
        let before = try await s.stages(jobID: id)
        let done = before.filter { $0.state == .succeeded }.map(\.stage)
        #expect(done.starts(with: ["script", "narration"]))
        #expect(before.first { $0.stage == failed.currentStage }?.state == .failed)
        // No temporary file is left behind, and nothing recorded is half-written.
        let leftovers = FileManager.default.enumerator(atPath: disk.mountPoint)?.compactMap { $0 as? String }.filter { $0.contains(".tmp-") } ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")
        for a in before.flatMap(\.artifacts) {
            let (hex, bytes) = try Checksum.sha256Hex(fileAt: URL(fileURLWithPath: a.path))
            #expect(hex == a.sha256 && bytes == a.bytes, "\(a.path)")
        }

        #expect(SmallDisk.command("/bin/mount", ["-t", "tmpfs", "-o", "remount,size=\(1 << 30)", "tmpfs", disk.mountPoint]))
        let retry = try await run("ytauto-admin", ["retry", String(id)], cwd: dir.url, environment: env)
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state.isFinished == true })
        // Then the full output folder, at publish: said as plainly, naming the file.
        let unpublished = try #require(try await s.job(id: id))
        #expect(unpublished.state == .failed && unpublished.currentStage == "publish")
        #expect(unpublished.lastErrorCode == "media.disk_full", "\(unpublished.lastErrorCode ?? "") \(unpublished.lastErrorMessage ?? "")")
        let said = unpublished.lastErrorMessage ?? ""
        #expect(said.contains("the disk is full: could not write \(output.mountPoint)/facts/1-the-deepest-hole-ever-dug/video.mp4 (No space left on device)"), "\(said)")
        #expect(!said.contains("publish: publish"), "the stage is named once: \(said)")
        #expect(SmallDisk.command("/bin/mount", ["-t", "tmpfs", "-o", "remount,size=\(1 << 30)", "tmpfs", output.mountPoint]))
        let again = try await run("ytauto-admin", ["retry", String(id)], cwd: dir.url, environment: env)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state.isFinished == true })
        let ended = try await s.job(id: id)
        #expect(ended?.state == .succeeded, "\(ended?.lastErrorMessage ?? "")")
        let after = try await s.stages(jobID: id)
        for stage in done {
            #expect(after.first { $0.stage == stage }?.attempt == 1, "\(stage) ran again")
        }
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }
}

extension FullDiskTests {
    /// The disk fills just as ffmpeg writes an MP4's index, its last part: ffmpeg says "Error
    /// writing trailer … No space left on device" and exits 0, leaving a file no player opens.
    /// The run fails `media.disk_full` (retried), and nothing is moved into the output's place.
    @Test func aDiskThatFillsAtTheMP4sIndexFailsTheRunAsAFullDisk() async throws {
        guard try await SmallDisk.runsHere("aDiskThatFillsAtTheMP4sIndexFailsTheRunAsAFullDisk") else { return }
        let dir = TempDir("ytauto-fullindex")
        let tools = try ToolRunner()
        let source = dir.path("source.mp4")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-t", "20",
                                                             "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3M", source])
        let size = try #require(try FileManager.default.attributesOfItem(atPath: source)[.size] as? Int)
        let disk = try SmallDisk(at: dir.path("disk"), bytes: 16 << 20)
        defer { disk.unmount() }
        // Room for all but the last 12 KB of the copy: its frames fit, its index (tens of KB) does not.
        let filler = (16 << 20) - size + 12_000
        try Data(count: filler / 4096 * 4096).write(to: URL(fileURLWithPath: disk.path("filler")))
        let output = disk.path("video.mp4")
        let error = await #expect(throws: FFmpegError.self) {
            try await Files.atomically(output) { tmp in
                try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-i", source, "-c", "copy", "-movflags", "+faststart", tmp])
            }
        }
        #expect(error?.exitStatus == 0 && error?.stderrTail.contains("Error writing trailer") == true, "\(String(describing: error))")
        #expect(error?.code == "media.disk_full" && error?.isRetryable == true)
        #expect(!FileManager.default.fileExists(atPath: output), "an unplayable video was moved into place")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: disk.mountPoint).filter { $0 != "filler" }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}

/// A tmpfs of a few MiB, mounted for one test.
struct SmallDisk {
    let mountPoint: String

    init(at path: String, bytes: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Self.mount(path, bytes: bytes) else { throw SmallDiskError("cannot mount a tmpfs at \(path)") }
        mountPoint = path
    }

    func path(_ name: String) -> String { mountPoint + "/" + name }

    /// Writes a file until the disk says ENOSPC; returns its path.
    func fill() throws -> String {
        let filler = path("filler")
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SmallDiskError("cannot create \(filler)") }
        defer { close(fd) }
        // 1 MiB at a time, then 4 KiB: quick, so the disk is full while the stage it aims at still runs.
        for size in [1 << 20, 4096] {
            let chunk = [UInt8](repeating: 0xA5, count: size)
            while true {
                let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    guard errno == ENOSPC else { throw SmallDiskError("writing \(filler): errno \(errno)") }
                    break
                }
                if n < size { break }
            }
        }
        return filler
    }

    func unmount() { _ = Self.command("/bin/umount", ["-l", mountPoint]) }

    static func mount(_ path: String, bytes: Int) -> Bool {
        command("/bin/mount", ["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", path])
    }

    static func command(_ executable: String, _ arguments: [String]) -> Bool {
        (try? Child(URL(fileURLWithPath: executable), arguments))?.waitForExit() == 0
    }

    /// How this process can have a small disk: it may mount (root, or root of the namespace it
    /// runs in), or it can run a test again inside a user and mount namespace; nil if neither.
    enum Mode { case mount, namespace }
    static let mode: Mode? = {
        let probe = FileManager.default.temporaryDirectory.appending(path: "ytauto-mount-probe-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        if geteuid() == 0, mount(probe, bytes: 1 << 20) {
            _ = command("/bin/umount", [probe])
            return .mount
        }
        if ProcessInfo.processInfo.environment[insideNamespace] == nil,
           command("/usr/bin/unshare", ["-rm", "--propagation", "private", "/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) {
            return .namespace
        }
        return nil
    }()

    static let insideNamespace = "YTAUTO_TEST_IN_NAMESPACE"

    /// Whether the test `name` of ``FullDiskTests`` runs in this process. With ``Mode/namespace``
    /// it runs in a child test process inside a new user and mount namespace instead; that
    /// child's result is checked here (exactly that one test ran, and passed) and this returns
    /// false. With no mode at all (only in CI, where the suite is enabled regardless) the test
    /// fails, saying why.
    static func runsHere(_ name: String) async throws -> Bool {
        switch mode {
        case .mount:
            return true
        case .none:
            Issue.record("a full disk cannot be made here: mounting a tmpfs needs root or unprivileged user namespaces (unshare -rm)")
            return false
        case .namespace:
            let child = try Child(URL(fileURLWithPath: "/usr/bin/unshare"), [
                "-rm", "--propagation", "private", "--",
                URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
                "--testing-library", "swift-testing", "--filter", "FullDiskTests/\(name)",
            ], environment: [insideNamespace: "1"])
            let r = await child.wait()
            let output = r.stdout + r.stderr
            #expect(r.status == 0 && output.contains("Test run with 1 test in 1 suite passed"),
                    "the test in a user and mount namespace: exit \(r.status)\n\(output.suffix(6000))")
            return false
        }
    }
}

struct SmallDiskError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
