import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoSupport
import YTAutoTestSupport
import YTAutoWorker

/// A stage whose work ignores its stop (as a library call in the worker's process does) is not
/// left to run on in silence: the worker fails the attempt at `--stage-timeout`, then says at
/// error level, again and again, that the work still runs and holds the job's folder, and says
/// when it returns at last. A real worker on a real SQLite file, in this process, running a
/// pipeline whose one stage blocks a thread until the test lets it go.
@Suite struct StoppedWorkTests {
    let dir = TempDir("ytauto-stopped")

    /// One stage that waits on a semaphore from a thread of its own: cancelling its task changes nothing.
    struct StubbornPipeline: StagedPipeline {
        let gate: DispatchSemaphore
        var stages: [String] { ["stubborn"] }
        var kind: JobKind { .synthetic }
        var name: String { "stubborn" }
        func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread { [gate] in
                    gate.wait()
                    c.resume()
                }
            }
            return .done([])
        }
    }

    /// Every line logged, with its level.
    final class Lines: Sendable {
        let all = Mutex<[(level: Logger.Level, message: String)]>([])
        func count(_ level: Logger.Level, containing text: String) -> Int {
            all.withLock { $0.filter { $0.level == level && $0.message.contains(text) }.count }
        }
    }

    struct Capture: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            lines.all.withLock { $0.append((level, "\(message)")) }
        }
    }

    /// One worker on `store` running ``StubbornPipeline``: one job at a time, a 1 s stage timeout,
    /// a report every 300 ms while stopped work runs on; every line it logs goes to `lines`.
    func startWorker(_ store: SQLiteJobStore, gate: DispatchSemaphore, lines: Lines) -> (ServiceGroup, Task<Void, any Error>) {
        var configuration = QueueWorkerConfiguration.oneAtATime
        configuration.stageTimeout = .seconds(1)
        configuration.stoppedWorkReportAfter = .milliseconds(300)
        configuration.stoppedWorkReportInterval = .milliseconds(300)
        return startWorker(store, pipeline: StubbornPipeline(gate: gate), configuration: configuration, lines: lines)
    }

    /// One worker on `store` running `pipeline` as `configuration` says; every line it logs goes to `lines`.
    func startWorker(_ store: SQLiteJobStore, pipeline: some StagedPipeline, configuration: QueueWorkerConfiguration,
                     lines: Lines) -> (ServiceGroup, Task<Void, any Error>) {
        YTAutoAppTests.startWorker(store, pipeline: pipeline, configuration: configuration) { _ in Capture(lines: lines) }
    }

    /// A job of `facts` failed with `code` at its first attempt (as a worker records it), made without running it.
    func failedJob(in store: SQLiteJobStore, code: String = JobFailure.workStuckCode, kind: JobKind = .synthetic,
                   maxAttempts: Int = 1) async throws -> Int64 {
        let id = try await store.enqueue(NewJob(channel: "facts", maxAttempts: maxAttempts, kind: kind)).job.id
        try await store.database.write {
            try $0.run("UPDATE jobs SET state = 'failed', attempt = 1, last_error_code = ?, finished_at = updated_at WHERE id = ?", [code, id])
        }
        return id
    }

    /// One stage that runs the real ffmpeg for ten minutes, at the pace of real time, its command
    /// line carrying `marker` so the test finds this ffmpeg and no other test's.
    struct LongFFmpegPipeline: StagedPipeline {
        let tools: ToolRunner
        let marker: String
        var stages: [String] { ["render"] }
        var kind: JobKind { .synthetic }
        var name: String { "long ffmpeg" }
        func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome {
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-re", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "600",
                                                                  "-metadata", "comment=\(marker)", "-f", "null", "-"])
            return .done([])
        }
    }

    /// One stage that passes at once; tidying after success takes a while (a long video's GBs).
    struct SlowTidyPipeline: StagedPipeline {
        var stages: [String] { ["quick"] }
        var kind: JobKind { .synthetic }
        var name: String { "slow tidy" }
        func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome { .done([]) }
        func succeeded(job: Job, dryRun: Bool) async throws { try await Task.sleep(for: .milliseconds(800)) }
    }

    /// A heartbeat that lands after the job's own completion is refused, since the job is no
    /// longer running: that is the job's ending, not a lost lease. The worker logged "lease lost;
    /// stopping without further writes" after a long run-once that succeeded.
    @Test func aHeartbeatAfterTheJobsOwnEndingIsNoLostLease() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 1, kind: .synthetic)).job.id
        var configuration = QueueWorkerConfiguration.oneAtATime
        configuration.heartbeatInterval = .milliseconds(40)
        let lines = Lines()
        let (group, running) = startWorker(store, pipeline: SlowTidyPipeline(), configuration: configuration, lines: lines)
        #expect(try await eventually { try await store.job(id: id)?.state == .succeeded })
        try await Task.sleep(for: .seconds(1))
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(lines.count(.warning, containing: "lease lost") == 0, "\(lines.all.withLock { $0 })")
        #expect(lines.count(.info, containing: "job succeeded") == 1)
    }

    /// This process's children whose command line contains `marker`. (Tests run side by side:
    /// other tests' ffmpeg are children too.)
    static func children(marked marker: String) -> [LocalProcess] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> LocalProcess? in
            guard let pid = Int32(entry), let process = LocalProcess.read(pid), process.parent == getpid(),
                  let command = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  String(decoding: command, as: UTF8.self).contains(marker) else { return nil }
            return process
        }
    }

    /// A stop signal sent to the worker's whole process group (Ctrl-C in a terminal), or to every
    /// process of its unit (systemd's default `KillMode=control-group`), reached ffmpeg too, which
    /// exited 255 mid-stage: the stage failed `ffmpeg.failed` and the attempt was spent (or the
    /// job failed, for run-once). Now the tool runs in a process group of its own, out of a
    /// terminal's reach, and a tool stopped by a signal while its worker stops is a hand-back.
    @Test func aStopSignalThatReachesTheStagesToolHandsTheJobBack() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 1, kind: .synthetic)).job.id
        var configuration = QueueWorkerConfiguration.oneAtATime
        configuration.grace = .seconds(30)
        let lines = Lines()
        let marker = "ytauto-test-\(UUID().uuidString)"
        let (group, running) = startWorker(store, pipeline: LongFFmpegPipeline(tools: try ToolRunner(), marker: marker), configuration: configuration, lines: lines)
        var ffmpeg: LocalProcess?
        #expect(await eventually(timeout: .seconds(30)) {
            ffmpeg = Self.children(marked: marker).first
            return ffmpeg != nil
        })
        let tool = try #require(ffmpeg)
        #expect(tool.group == tool.pid && tool.group != getpgrp(), "ffmpeg runs in this process's group \(getpgrp())")
        // The stop as systemd sends it: the worker and, a moment later, its tool.
        await group.triggerGracefulShutdown()
        kill(tool.pid, SIGTERM)
        try await running.value
        let job = try #require(try await store.job(id: id))
        #expect(job.state == .queued && job.attempt == 0, "\(job.state) attempt \(job.attempt): \(job.lastErrorCode ?? "")")
        #expect(try await store.attempts(jobID: id).map(\.outcome) == [.handedBack])
        #expect(lines.count(.notice, containing: "stopped by the signal that stops this worker") == 1)
    }

    @Test func aStoppedStageThatRunsOnIsReportedUntilItReturns() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 1, kind: .synthetic)).job.id
        let gate = DispatchSemaphore(value: 0)
        var opened = false
        // A failed expectation that throws must not leave the stage's thread blocked.
        defer { if !opened { gate.signal() } }
        let lines = Lines()
        let (group, running) = startWorker(store, gate: gate, lines: lines)

        #expect(try await eventually { try await store.job(id: id)?.state == .failed })
        #expect(try await store.job(id: id)?.lastErrorCode == "stage.timeout")
        let stillRuns = "stage stopped at its --stage-timeout has not returned"
        #expect(await eventually(timeout: .seconds(20)) { lines.count(.error, containing: stillRuns) >= 2 }, "\(lines.all.withLock { $0 })")
        #expect(lines.count(.notice, containing: "returned at last") == 0)

        gate.signal()
        opened = true
        #expect(await eventually(timeout: .seconds(20)) { lines.count(.notice, containing: "returned at last") == 1 })
        // Once it has returned, no more reports.
        let reports = lines.count(.error, containing: stillRuns)
        try await Task.sleep(for: .seconds(1))
        #expect(lines.count(.error, containing: stillRuns) == reports)
        // It failed at its timeout, not for want of its folder: left failed.
        #expect(try await store.job(id: id)?.state == .failed && lines.count(.notice, containing: "queued again") == 0)

        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// A job whose next run failed `work.stuck` while the stopped work held its folder failed for
    /// that work alone: when the work returns, its worker queues the job again, and it runs.
    @Test func aJobThatFailedStuckMeanwhileIsQueuedAgainWhenTheWorkReturns() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 1, kind: .synthetic)).job.id
        let gate = DispatchSemaphore(value: 0)
        var opened = false
        defer { if !opened { for _ in 0..<4 { gate.signal() } } }
        let lines = Lines()
        let (group, running) = startWorker(store, gate: gate, lines: lines)

        #expect(try await eventually { try await store.job(id: id)?.state == .failed })
        // What the job's next run leaves when the folder stays held too long (as on another worker or host).
        try await store.database.write { try $0.run("UPDATE jobs SET last_error_code = ? WHERE id = ?", [JobFailure.workStuckCode, id]) }
        #expect(try await store.job(id: id)?.state == .failed)

        // The work returns; the retried run's stage passes the gate at once.
        gate.signal()
        gate.signal()
        opened = true
        #expect(await eventually(timeout: .seconds(20)) { lines.count(.notice, containing: "queued again") == 1 }, "\(lines.all.withLock { $0 })")
        let ran = try await eventually(timeout: .seconds(20)) { try await store.job(id: id)?.state == .succeeded }
        let job = try await store.job(id: id), attempts = try await store.attempts(jobID: id)
        #expect(ran, "\(String(describing: job)) \(attempts) \(lines.all.withLock { $0 })")
        #expect(attempts.count == 2)

        await group.triggerGracefulShutdown()
        try await running.value
    }
    /// A pipeline whose one stage passes at once and whose held work has always ended; while its
    /// worker asks, the job is retried by someone else and fails again, otherwise (as between the
    /// worker's listing and its retry): the first time it is asked only.
    final class ChangedWhileAskedPipeline: StagedPipeline {
        let store: SQLiteJobStore
        let asked = Mutex(false)
        init(store: SQLiteJobStore) { self.store = store }
        var stages: [String] { ["quick"] }
        var kind: JobKind { .synthetic }
        var name: String { "changed" }
        func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome { .done([]) }
        func heldWorkEnded(job: Job) -> Bool? {
            guard !asked.withLock({ let was = $0; $0 = true; return was }) else { return true }
            _ = try? store.database.sync { db in
                try db.run("""
                    UPDATE jobs SET attempt = 2, last_error_code = 'stage.timeout',
                           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+1 second'),
                           finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+1 second') WHERE id = ?
                    """, [job.id])
            }
            return true
        }
    }

    /// The worker queues a `work.stuck` job again only as it listed it: one retried and failed again
    /// otherwise meanwhile is left failed, with no notice.
    @Test func aStuckJobThatChangedSinceItWasListedIsLeftAsItIs() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await failedJob(in: store, maxAttempts: 2)
        let pipeline = ChangedWhileAskedPipeline(store: store)
        var configuration = QueueWorkerConfiguration()
        configuration.stuckCheckInterval = .milliseconds(200)
        let lines = Lines()
        let (group, running) = startWorker(store, pipeline: pipeline, configuration: configuration, lines: lines)

        #expect(await eventually(timeout: .seconds(10)) { pipeline.asked.withLock { $0 } })
        try await Task.sleep(for: .seconds(1))  // five more looks: the job no longer failed work.stuck
        let job = try await store.job(id: id)
        #expect(job?.state == .failed && job?.lastErrorCode == "stage.timeout", "\(String(describing: job))")
        #expect(lines.count(.notice, containing: "queued again") == 0, "\(lines.all.withLock { $0 })")

        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// A pipeline that cannot tell here whether a job's held work has ended (it ran on another
    /// host), and names the process that held it: process 4242 on `gone-host`, for each job its own
    /// since-time in `since`.
    /// (Or, for the jobs in `worker`, process 1 on `shared-host`, naming that worker.)
    struct ElsewherePipeline: StagedPipeline {
        let since: [Int64: Date]
        var worker: [Int64: String] = [:]
        var stages: [String] { ["quick"] }
        var kind: JobKind { .synthetic }
        var name: String { "elsewhere" }
        func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome { .done([]) }
        func heldWorkEnded(job: Job) -> Bool? { nil }
        func heldWorkHolder(job: Job) -> HeldWorkHolder? {
            guard let since = since[job.id] else { return nil }
            guard let worker = worker[job.id] else { return HeldWorkHolder(host: "gone-host", pid: 4242, since: since) }
            return HeldWorkHolder(host: "shared-host", pid: 1, since: since, worker: worker)
        }
    }

    /// Inserts a worker record of process `pid` on `host`, as the registry of another host would
    /// hold it; a worker not running stopped an hour ago, or at `stopped`.
    func recordWorker(_ store: SQLiteJobStore, id: String, pid: Int32, host: String, state: WorkerRecord.State,
                      started: Date, stopped: Date? = nil) async throws {
        let now = Date()
        try await store.database.write { db in
            try db.run("""
                INSERT INTO workers (id, pid, hostname, lock_path, state, started_at, last_seen_at, stopped_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [id, Int64(pid), host, "/nowhere/\(id).lock", state.rawValue, Timestamp.string(started), Timestamp.string(now),
                      state == .running ? nil : Timestamp.string(stopped ?? now.addingTimeInterval(-3_600))])
        }
    }

    /// A `work.stuck` job whose holder named its worker is judged by that worker's record, read by
    /// its id: of two containers sharing the host's name, each with its worker as process 1, the
    /// job held by the one that stopped is queued again, the one held by the one still running stays failed.
    @Test func aStuckJobIsJudgedByTheWorkerItsHolderNamed() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let hour = 3_600.0, now = Date()
        try await recordWorker(store, id: "c1", pid: 1, host: "shared-host", state: .stopped, started: now.addingTimeInterval(-3 * hour))
        try await recordWorker(store, id: "c2", pid: 1, host: "shared-host", state: .running, started: now.addingTimeInterval(-4 * hour))
        let byStopped = try await failedJob(in: store), byRunning = try await failedJob(in: store)
        let since = now.addingTimeInterval(-2 * hour)
        let pipeline = ElsewherePipeline(since: [byStopped: since, byRunning: since], worker: [byStopped: "c1", byRunning: "c2"])
        var configuration = QueueWorkerConfiguration()
        configuration.stuckCheckInterval = .milliseconds(200)
        let lines = Lines()
        let (group, running) = startWorker(store, pipeline: pipeline, configuration: configuration, lines: lines)

        let ran = try await eventually(timeout: .seconds(20)) { try await store.job(id: byStopped)?.state == .succeeded }
        #expect(ran, "\(lines.all.withLock { $0 })")
        try await Task.sleep(for: .seconds(1))  // five more looks
        #expect(try await store.job(id: byRunning)?.state == .failed)
        #expect(lines.count(.notice, containing: "(process 1 on shared-host, worker c1) has stopped or died") == 1,
                "\(lines.all.withLock { $0 })")

        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// A `work.stuck` job whose run was on another host is queued again once the worker whose
    /// process held it has died or stopped, as its record says (that host may never come back: a
    /// container replaced under another name); one whose holder's worker still runs, or whose
    /// holder is no worker on record, stays failed.
    @Test func aStuckJobOfAnotherHostIsQueuedAgainOnceItsHoldersWorkerIsGone() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let hour = 3_600.0, now = Date()
        // Two workers of that host on record: the dead one was process 4242 until two hours ago;
        // the running one is process 4242 again (the id used again), started an hour ago.
        try await recordWorker(store, id: "old", pid: 4242, host: "gone-host", state: .dead, started: now.addingTimeInterval(-5 * hour),
                               stopped: now.addingTimeInterval(-2 * hour))
        try await recordWorker(store, id: "new", pid: 4242, host: "gone-host", state: .running, started: now.addingTimeInterval(-hour))
        var since: [Int64: Date] = [:]
        func failed(heldSince: Date?) async throws -> Int64 {
            let id = try await failedJob(in: store)
            since[id] = heldSince
            return id
        }
        // Held by the dead worker's run; by the running one's; by a process no worker record names.
        let gone = try await failed(heldSince: now.addingTimeInterval(-3 * hour))
        let running = try await failed(heldSince: now.addingTimeInterval(-0.5 * hour))
        let unknown = try await failed(heldSince: now.addingTimeInterval(-6 * hour))
        let none = try await failed(heldSince: nil)
        var configuration = QueueWorkerConfiguration()
        configuration.stuckCheckInterval = .milliseconds(200)
        let lines = Lines()
        let (group, runningWorker) = startWorker(store, pipeline: ElsewherePipeline(since: since), configuration: configuration, lines: lines)

        let ran = try await eventually(timeout: .seconds(20)) { try await store.job(id: gone)?.state == .succeeded }
        #expect(ran, "\(lines.all.withLock { $0 })")
        try await Task.sleep(for: .seconds(1))  // five more looks
        for id in [running, unknown, none] { #expect(try await store.job(id: id)?.state == .failed, "job \(id)") }
        #expect(lines.count(.notice, containing: "(process 4242 on gone-host) has stopped or died, so the job is queued again") == 1,
                "\(lines.all.withLock { $0 })")

        await group.triggerGracefulShutdown()
        try await runningWorker.value
    }

    /// A pipeline whose one stage passes at once, and which says the held work of every job has
    /// ended but of those in `held`.
    struct QuickPipeline: StagedPipeline {
        let held: Set<Int64>
        var stages: [String] { ["quick"] }
        var kind: JobKind { .synthetic }
        var name: String { "quick" }
        func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome { .done([]) }
        func heldWorkEnded(job: Job) -> Bool? { !held.contains(job.id) }
    }

    /// A job that failed `work.stuck` is queued again by a worker once the run that held its folder
    /// has ended (its worker restarted or died), and runs; a job that failed otherwise, one of
    /// another pipeline's kind, and one whose folder is still held stay failed.
    @Test func jobsThatFailedStuckAreQueuedAgainOnceTheirHeldWorkHasEnded() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let stuck = try await failedJob(in: store), other = try await failedJob(in: store, code: "stage.timeout")
        let video = try await failedJob(in: store, kind: .video), held = try await failedJob(in: store)
        var configuration = QueueWorkerConfiguration()
        configuration.stuckCheckInterval = .milliseconds(200)
        let lines = Lines()
        let (group, running) = startWorker(store, pipeline: QuickPipeline(held: [held]), configuration: configuration, lines: lines)

        let ran = try await eventually(timeout: .seconds(20)) { try await store.job(id: stuck)?.state == .succeeded }
        #expect(ran, "\(lines.all.withLock { $0 })")
        try await Task.sleep(for: .seconds(1))  // five more looks
        for id in [other, video, held] { #expect(try await store.job(id: id)?.state == .failed, "job \(id)") }
        #expect(lines.count(.notice, containing: "so the job is queued again") == 1, "\(lines.all.withLock { $0 })")

        await group.triggerGracefulShutdown()
        try await running.value
    }
}
