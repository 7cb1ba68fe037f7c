import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// The media pipeline's tidying after a job succeeded, and the folder naming and measuring that
/// `prune` and `status` share with it, on real files.
@Suite struct JobFoldersTests {
    let dir = TempDir("ytauto-folders")

    func job(_ id: Int64, topic: String?) -> Job {
        let now = Date()
        return Job(id: id, channel: "facts", topic: topic, payload: "{}", state: .succeeded, priority: 0, runAt: now, attempt: 1,
                   maxAttempts: 3, leaseOwner: nil, leaseToken: 1, leaseExpiresAt: nil, cancelRequested: false, currentStage: nil,
                   uniqueKey: nil, lastErrorCode: nil, lastErrorMessage: nil, createdAt: now, updatedAt: now, finishedAt: now)
    }

    /// Takes `folder`'s stage lock on another open file (as a copy of a just-closed descriptor in a
    /// child between its fork and its exec holds it), and lets it go after `ms`.
    func holdLock(_ folder: URL, forMS ms: UInt32) throws {
        let fd = open(folder.path + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        Thread.detachNewThread { usleep(ms * 1000); close(fd) }
    }

    /// A stage of this process holding the folder's lock (through ``WorkFolderLock``) until released.
    struct HeldStage {
        let task: Task<Void, any Error>
        let releasing: AsyncStream<Void>.Continuation
        func release() async throws {
            releasing.yield()
            try await task.value
        }
    }

    func holdInStage(_ stage: String) async -> HeldStage {
        let (entered, enter) = AsyncStream<Void>.makeStream()
        let (release, releasing) = AsyncStream<Void>.makeStream()
        let task = Task { [dir] in
            try await WorkFolderLock.holding(dir.url, stage: stage) {
                enter.yield()
                for await _ in release { break }
            }
        }
        for await _ in entered { break }
        return HeldStage(task: task, releasing: releasing)
    }

    /// Whether a folder's lock is free, as a worker asks of a job that failed `work.stuck`: not
    /// while a stage holds it, yes once it is let go, unknown without a lock file (another host's work).
    /// A folder whose lock cannot be made (read-only, or gone) is named in the stage's error,
    /// with what to do: "Permission denied" alone named no file.
    @Test func aLockThatCannotBeMadeNamesItsFolder() async throws {
        let gone = dir.url.appending(path: "gone")
        let thrown = await #expect(throws: (any Error).self) {
            try await WorkFolderLock.holding(gone, stage: "clips") { }
        }
        let error = MediaFileError(stage: "clips", error: try #require(thrown))
        #expect(error.code == "media.file" && error.isRetryable)
        #expect(error.message.hasPrefix("cannot use \(gone.path)/.lock: No such file or directory"), "\(error.message)")
        let denied = MediaFileError(stage: "clips", error: NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES), userInfo: [NSFilePathErrorKey: "/srv/work/3/.lock"]))
        #expect(denied.message.hasPrefix("cannot use /srv/work/3/.lock: Permission denied (this user (uid \(getuid())) may not write there; fix the permissions"), "\(denied.message)")
    }

    /// A file where a folder is needed names that file, and a folder removed while the job ran
    /// names the folder, without Foundation's dump of the error ("Error Domain=NSCocoaErrorDomain
    /// Code=512 … UserInfo={…}", naming only the job's folder below the file in the way).
    @Test func aBrokenPathNamesWhatToFix() throws {
        let channel = dir.url.appending(path: "output/facts-shorts")
        try FileManager.default.createDirectory(at: channel.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: channel)
        let inTheWay = #expect(throws: (any Error).self) {
            try FileManager.default.createDirectory(at: channel.appending(path: "8-honey"), withIntermediateDirectories: true)
        }
        let blocked = MediaFileError(stage: "publish", error: try #require(inTheWay))
        #expect(blocked.message.contains("(\(channel.path) is a file where a folder is needed; the job is retried)")
                && !blocked.message.contains("Error Domain"), "\(blocked.message)")
        let removed = dir.url.appending(path: "work/7")
        let gone = #expect(throws: (any Error).self) {
            try Data("x".utf8).write(to: removed.appending(path: "clips/seg0009.mp4"))
        }
        let missing = MediaFileError(stage: "clips", error: try #require(gone))
        #expect(missing.message.contains("the folder \(dir.url.appending(path: "work").path) is missing (removed while the job ran?)")
                && !missing.message.contains("Error Domain"), "\(missing.message)")
    }

    @Test func aFoldersLockIsFreeOnlyWhenNoStageHoldsIt() async throws {
        #expect(WorkFolderLock.isFree(dir.url) == nil)
        let holder = await holdInStage("clips")
        #expect(WorkFolderLock.isFree(dir.url) == false)
        try await holder.release()
        #expect(WorkFolderLock.isFree(dir.url) == true)
        #expect(WorkFolderLock.isFree(dir.url) == true, "looking does not keep it")
    }

    /// A `work.stuck` job's run is looked for only on the host its error names: the folder of the
    /// same job on another host (an earlier attempt's) says nothing of that run.
    @Test func theHeldWorkOfAnotherHostIsNotJudgedHere() async throws {
        let pipeline = MediaPipeline(channels: [], workDirectory: dir.url, outputDirectory: dir.url.appending(path: "out"), tools: try ToolRunner())
        let folder = dir.url.appending(path: "7")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // A lock file, free now; while held it named its holder as the error quotes it, this host included.
        let written = try await WorkFolderLock.holding(folder, stage: "clips") {
            try String(contentsOf: folder.appending(path: ".lock"), encoding: .utf8)
        }
        #expect(WorkFolderLock.holderHost(in: written) == ProcessInfo.processInfo.hostName, "\(written)")
        func failed(on host: String) -> Job {
            var job = Job.running(7, channel: "facts", topic: "t")
            job.state = .failed
            job.lastErrorCode = "work.stuck"
            job.lastErrorMessage = "clips: the job's work folder \(folder.path) has been held by another run of this job "
                + "(stage clips of process 4242 on \(host), since 2026-12-02T01:00:00.000Z) for 2h, longer than …"
            return job
        }
        #expect(pipeline.heldWorkEnded(job: failed(on: ProcessInfo.processInfo.hostName)) == true)
        #expect(pipeline.heldWorkEnded(job: failed(on: "another-host")) == nil)
        #expect(WorkFolderLock.holderHost(in: "stage images of process 12 on db-1.example, since 2026-01-01T00:00:00.000Z") == "db-1.example")
        // The process, and since when, as the lock's holder wrote them and as the error quotes them.
        let holder = try #require(WorkFolderLock.holder(in: written))
        #expect(holder.pid == getpid() && abs(holder.since.timeIntervalSinceNow) < 60, "\(written)")
        #expect(pipeline.heldWorkHolder(job: failed(on: "another-host"))
                    == HeldWorkHolder(host: "another-host", pid: 4242, since: Timestamp.date("2026-12-02T01:00:00.000Z")!))
        #expect(WorkFolderLock.holderHost(in: "the job's work folder is in use") == nil)
    }

    /// A stage run by a worker writes the worker's id into the lock file, and it is read back with
    /// the host, process and time; a text with no worker (an older ytauto's) still names its holder.
    @Test func aLocksHolderNamesItsWorker() async throws {
        let written = try await WorkFolderLock.holding(dir.url, stage: "clips", worker: "w-4242-a1b2c3") {
            try String(contentsOf: dir.url.appending(path: ".lock"), encoding: .utf8)
        }
        #expect(written.hasPrefix("stage clips of process \(getpid()) on \(ProcessInfo.processInfo.hostName), worker w-4242-a1b2c3, since "),
                "\(written)")
        let holder = try #require(WorkFolderLock.holder(in: written), "\(written)")
        #expect(holder.worker == "w-4242-a1b2c3" && holder.pid == getpid() && holder.host == ProcessInfo.processInfo.hostName
                    && abs(holder.since.timeIntervalSinceNow) < 60, "\(holder)")
        let quoted = "clips: the job's work folder /w/7 has been held by another run of this job (stage clips of process 1 on "
            + "db-1.example, worker w-1-ff, since 2026-01-01T00:00:00.000Z) for 2h, longer than …"
        #expect(WorkFolderLock.holder(in: quoted)
                    == HeldWorkHolder(host: "db-1.example", pid: 1, since: Timestamp.date("2026-01-01T00:00:00.000Z")!, worker: "w-1-ff"))
        let older = "stage clips of process 1 on db-1.example, since 2026-01-01T00:00:00.000Z"
        #expect(WorkFolderLock.holder(in: older)?.worker == nil && WorkFolderLock.holder(in: older)?.host == "db-1.example")
    }

    /// A lock freed within a moment is waited for: a process being spawned elsewhere in the worker
    /// holds the previous stage's lock until its exec, and the next stage must not fail `work.busy` for it.
    @Test func aStageLockFreedWithinAMomentIsWaitedFor() async throws {
        try holdLock(dir.url, forMS: 400)
        let started = ContinuousClock.now
        let value = try await WorkFolderLock.holding(dir.url, stage: "images") { 7 }
        #expect(value == 7)
        #expect(ContinuousClock.now - started >= .milliseconds(350))
    }

    /// A lock held past the wait is another run of the job: the stage does not run, and says why.
    @Test func aStageLockHeldLongerIsBusy() async throws {
        // Held far past the wait: under a loaded test run this task may not be resumed for
        // seconds after its wait ends, and a lock freed meanwhile is taken (it once was at 8 s).
        try holdLock(dir.url, forMS: 60_000)
        var ran = false
        let error = await #expect(throws: WorkFolderBusyError.self) {
            try await WorkFolderLock.holding(dir.url, stage: "images") { ran = true }
        }
        #expect(!ran)
        #expect(error?.code == "work.busy" && error?.spendsAttempt == false && error?.message.contains(dir.url.path) == true)
        #expect((error?.retryAt?.timeIntervalSinceNow ?? 0) > 50)
    }

    /// A busy folder names the run holding it, as that run wrote itself into the lock file: an
    /// operator can tell which worker's stage never returned.
    @Test func aBusyFolderNamesTheRunHoldingIt() async throws {
        let holder = await holdInStage("clips")
        let error = await #expect(throws: WorkFolderBusyError.self) {
            try await WorkFolderLock.holding(dir.url, stage: "images") {}
        }
        try await holder.release()
        let named = "stage clips of process \(getpid()) on \(ProcessInfo.processInfo.hostName), since "
        #expect(error?.holder?.hasPrefix(named) == true, "\(error?.holder ?? "no holder")")
        #expect(error?.message.contains("(\(named)") == true, "\(error?.message ?? "")")
        // Once it is free, the next run takes it and writes itself in.
        try await WorkFolderLock.holding(dir.url, stage: "compose") {
            let text = try String(contentsOf: dir.url.appending(path: ".lock"), encoding: .utf8)
            #expect(text.hasPrefix("stage compose of process \(getpid())"), "\(text)")
        }
    }

    /// A run that has held the folder for longer than any stage may run (the worker's stage
    /// timeout, plus the margin) was stopped and its work never returned: the stage fails
    /// `work.stuck`, not retried, naming that run, instead of waiting for it forever. Held for less,
    /// or with no stage timeout known, it is only busy.
    @Test func aFolderHeldLongerThanAnyStageMayRunIsStuck() async throws {
        let holder = await holdInStage("clips")
        // The holder wrote itself in two hours ago (its text and the file's time say so).
        let lock = dir.url.appending(path: ".lock").path
        func heldSince(hoursAgo text: Double, fileHoursAgo file: Double) throws {
            let written = try String(contentsOfFile: lock, encoding: .utf8)
            let since = try #require(written.range(of: ", since ")).upperBound
            let then = Timestamp.string(Date().addingTimeInterval(-text * 3_600))
            try Data((written[..<since] + then).utf8).write(to: URL(fileURLWithPath: lock))  // in place: the lock stays held
            let t = timeval(tv_sec: time(nil) - Int(file * 3_600), tv_usec: 0)
            #expect(utimes(lock, [t, t]) == 0)
        }
        try heldSince(hoursAgo: 2, fileHoursAgo: 2)
        let twoHoursAgo = timeval(tv_sec: time(nil) - 7200, tv_usec: 0)

        let stuck = await #expect(throws: WorkFolderStuckError.self) {
            try await WorkFolderLock.holding(dir.url, stage: "images", stuckAfter: .seconds(3600)) {}
        }
        #expect(stuck?.code == "work.stuck" && stuck?.isRetryable == false)
        let message = stuck?.message ?? ""
        // The holder, as a worker reads it back from the job's error.
        let named = try #require(WorkFolderLock.holder(in: message), "\(message)")
        #expect(named.pid == getpid() && named.host == ProcessInfo.processInfo.hostName && abs(named.since.timeIntervalSinceNow + 7_200) < 120)
        #expect(message.contains("(stage clips of process \(getpid())") && message.contains("for 2h")
                    && message.contains("--stage-timeout (1h)") && message.contains("restart the worker")
                    && message.contains("its worker queues the job again") && message.contains("a worker on the host it names then queues the job again within 30 s (or retry it: ytauto-admin retry)"), "\(message)")
        // Two hours is within a three-hour stage timeout, or a 1 h 55 m one and the margin: the
        // holder may still be stopping.
        for limit in [3 * 3600, 115 * 60] {
            await #expect(throws: WorkFolderBusyError.self) {
                try await WorkFolderLock.holding(dir.url, stage: "images", stuckAfter: .seconds(limit)) {}
            }
        }
        // A text an earlier holder wrote (three hours ago), in a file this holder only touched (it
        // could not write itself in): it names nobody, so the run is busy, not stuck.
        try heldSince(hoursAgo: 3, fileHoursAgo: 2)
        let busy = await #expect(throws: WorkFolderBusyError.self) {
            try await WorkFolderLock.holding(dir.url, stage: "images", stuckAfter: .seconds(60)) {}
        }
        #expect(busy?.holder == nil, "\(String(describing: busy?.holder))")
        // A lock file without its holder's text (a holder of an older ytauto) keeps an earlier
        // holder's time, which says nothing of this one: busy.
        #expect(truncate(dir.url.appending(path: ".lock").path, 0) == 0)
        #expect(utimes(dir.url.appending(path: ".lock").path, [twoHoursAgo, twoHoursAgo]) == 0)
        await #expect(throws: WorkFolderBusyError.self) {
            try await WorkFolderLock.holding(dir.url, stage: "images", stuckAfter: .seconds(60)) {}
        }
        await #expect(throws: WorkFolderBusyError.self) {
            try await WorkFolderLock.holding(dir.url, stage: "images") {}
        }
        try await holder.release()
    }

    @Test func aSucceededJobLosesItsWorkFolderButADryRunKeepsIt() async throws {
        let pipeline = MediaPipeline(channels: [ChannelConfig.defaults(for: .facts)], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: try ToolRunner())
        let work = pipeline.folders.work(jobID: 4)
        try FileManager.default.createDirectory(at: work.appending(path: "clips"), withIntermediateDirectories: true)
        try Data(repeating: 1, count: 300_000).write(to: work.appending(path: "clips/seg0000.mp4"))
        #expect(JobFolders.diskUsage(work) >= 300_000)

        try await pipeline.succeeded(job: job(4, topic: "t"), dryRun: true)
        #expect(FileManager.default.fileExists(atPath: work.appending(path: "clips/seg0000.mp4").path))  // its video is only here
        try await pipeline.succeeded(job: job(4, topic: "t"), dryRun: false)
        #expect(!FileManager.default.fileExists(atPath: work.path))
        #expect(JobFolders.diskUsage(work) == 0)
        try await pipeline.succeeded(job: job(4, topic: "t"), dryRun: false)  // already gone: no error
        #expect(FileManager.default.fileExists(atPath: dir.url.appending(path: "work").path))  // only the job's own folder went
    }

    @Test func onePartOfAFolderIsCountedInTheSameWalk() throws {
        let work = dir.url.appending(path: "walked")
        for (sub, bytes) in [("stock/pexels", 200_000), ("stockpile", 100_000), ("7", 50_000)] {
            try FileManager.default.createDirectory(at: work.appending(path: sub), withIntermediateDirectories: true)
            try Data(repeating: 1, count: bytes).write(to: work.appending(path: "\(sub)/f.bin"))
        }
        let used = JobFolders.diskUsage(work, part: "stock")
        #expect(used.total == JobFolders.diskUsage(work), "the same total as the plain walk")
        // stock/ and what is in it; not stockpile/, whose name only begins the same.
        #expect(used.part >= 200_000 && used.part < 300_000, "\(used)")
        #expect(JobFolders.diskUsage(work, part: "none").part == 0)
    }

    @Test func aWorkFolderThatCannotBeListedIsAProblemNotAnEmptyList() throws {
        let file = dir.url.appending(path: "not-a-folder")
        try Data("x".utf8).write(to: file)
        let listed = JobFolders(work: file, output: dir.url).footageInUse()
        #expect(listed.paths.isEmpty && listed.problems.count == 1 && listed.problems.first?.contains("cannot list") == true, "\(listed)")
        #expect(JobFolders(work: dir.url.appending(path: "none"), output: dir.url).footageInUse().problems.isEmpty, "a missing one holds nothing")
    }

    @Test func theOutputFolderIsNamedAsThePublisherNamesIt() {
        let folders = JobFolders(work: dir.url.appending(path: "work"), output: dir.url.appending(path: "out"))
        #expect(folders.output(channel: "facts", jobID: 12, topic: "Why is the sky blue? (really)").lastPathComponent == "12-why-is-the-sky-blue-really")
        #expect(folders.output(channel: "facts", jobID: 13, topic: nil).path == dir.url.appending(path: "out/facts/13-video").path)
    }
}
