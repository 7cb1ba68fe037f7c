import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport

/// `ytauto worker` as a real process, stopped with real signals.
@Suite struct WorkerProcessTests {
    let dir = TempDir("ytauto-worker")
    var dbPath: String { dir.path("ytauto.db") }
    var env: [String: String] { ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("ytauto.yaml")] }

    func worker(_ args: String...) throws -> Child { try worker(args) }

    func worker(_ args: [String]) throws -> Child {
        try Child(binary("ytauto"), ["worker"] + args, cwd: dir.url, environment: env)
    }

    func store() throws -> SQLiteJobStore { try SQLiteJobStore(path: dbPath) }

    @Test func refusesToStartWhenFFmpegIsMissingAndNamesThePackage() async throws {
        try "channels:\n  - name: facts\n".write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        var bare = env
        bare["PATH"] = dir.path("empty-bin")
        let r = try await run("ytauto", ["worker"], cwd: dir.url, environment: bare)
        #expect(r.status == 1)
        #expect(r.stderr.contains("ffmpeg is not installed or not on PATH (looked in \(dir.path("empty-bin")))"), "\(r.stderr)")
        #expect(r.stderr.contains("install the Debian package ffmpeg"))
        #expect(!FileManager.default.fileExists(atPath: dbPath))  // nothing was written
    }

    /// The configuration edited while a worker runs: said within seconds, with the problems of an
    /// edit that would not load (the worker keeps the one it started with), and the watch does not
    /// hold the worker's stop.
    @Test func anEditedConfigurationIsSaidAndTheWorkerStillStops() async throws {
        let config = "channels:\n  - name: facts\n"
        try config.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        _ = try store()
        let log = dir.path("worker.log")
        let w = try Child(binary("ytauto"), ["worker"], cwd: dir.url, environment: env, outputFile: log)
        defer { w.kill(SIGKILL) }
        func logged(_ text: String) async -> Bool { await eventually(file: log, contains: text) }
        #expect(await logged("worker started"))
        try (config + "    schedul: [\"0 9 * * *\"]\n").write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        #expect(await logged("the configuration \(dir.path("ytauto.yaml")) changed on disk and would not load: "))
        #expect(await logged("unknown key 'schedul'; did you mean 'schedule'?"))
        w.kill(SIGTERM)
        let stopped = await w.wait(atMost: .seconds(30))
        #expect(stopped.exitedInTime, "the worker did not stop")
        #expect(stopped.result.status == 0)
    }

    @Test func runsJobsSeesNewOnesQuicklyAndStopsCleanly() async throws {
        let s = try store()
        for i in 0..<3 { _ = try await s.enqueue(NewJob(channel: "facts", topic: "t\(i)", kind: .synthetic)) }
        let w = try worker("--synthetic-stage-ms", "20", "--concurrency", "2", "--log-format", "json")
        #expect(try await eventually(timeout: .seconds(30)) { try await s.stats().byState[.succeeded] == 3 })
        // Idle now: a new job is seen through data_version, without the worker taking the write lock.
        let enqueuedAt = Date()
        let id = try await s.enqueue(NewJob(channel: "horror", kind: .synthetic)).job.id
        #expect(try await eventually(timeout: .seconds(10)) { try await s.attempts(jobID: id).isEmpty == false })
        let pickup = try #require(try await s.attempts(jobID: id).first).startedAt.timeIntervalSince(enqueuedAt)
        print("idle worker picked up a new job after \(Int(pickup * 1000)) ms")
        #expect(pickup < 2)
        #expect(try await eventually(timeout: .seconds(30)) { try await s.job(id: id)?.state == .succeeded })
        let stages = try await s.stages(jobID: id)
        #expect(stages.map(\.stage) == ["script", "narration", "images", "clips", "compose", "thumbnail", "publish"])
        #expect(stages.allSatisfy { $0.state == .succeeded })
        w.kill(SIGTERM)
        let r = await w.wait()
        #expect(r.status == 0, "\(r.stderr)")
        // JSON log lines carry the job id, channel and stage.
        let line = try #require(r.stderr.split(separator: "\n").first { $0.contains("\"stage done\"") })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["job_id"] != nil && json["channel"] != nil && json["stage"] != nil)
        #expect(try await s.workers().first?.state == .stopped)
    }

    /// A worker that stops leaves no writes in the `-wal`: it closes its connection as it exits,
    /// so SQLite folds the log into the file. One stopped while it ran a video's stage (the job
    /// handed back) left 200 KB there, which a read-only command on a full disk cannot read.
    /// The test's own connections are closed before the worker stops, so the worker's is the last.
    @Test func aStoppedWorkerLeavesNoWritesInTheWAL() async throws {
        for command in [["init"], ["enqueue", "facts"]] {
            let r = try await run("ytauto", command, cwd: dir.url, environment: env)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let w = try worker()
        #expect(try await eventually(timeout: .seconds(30)) {
            let look = try store()
            defer { look.close() }
            return try await look.stages(jobID: 1).contains { $0.stage == "narration" }
        })
        w.kill(SIGTERM)
        let r = await w.wait()
        #expect(r.status == 0, "\(r.stderr)")
        let wal = (try? FileManager.default.attributesOfItem(atPath: dbPath + "-wal"))?[.size] as? Int ?? 0
        #expect(wal == 0, "the -wal holds \(wal) bytes")
        let look = try store()
        defer { look.close() }
        #expect(try await look.job(id: 1)?.state == .queued, "handed back")
    }

    /// A worker whose log goes into a pipe that closes (`ytauto worker | head`, a log reader
    /// gone) goes on working: SIGPIPE killed it mid-job, and the job was lost.
    @Test func aClosedOutputPipeDoesNotStopTheWorker() async throws {
        let s = try store()
        let shell = try Child(URL(fileURLWithPath: "/bin/bash"),
                              ["-c", "\"$0\" worker --synthetic-stage-ms 200 --concurrency 1 2>&1 | head -c 1 > /dev/null", binary("ytauto").path],
                              cwd: dir.url, environment: env)
        defer { shell.kill(SIGKILL) }
        #expect(try await eventually(timeout: .seconds(30)) { try await s.workers().first?.state == .running })
        // The worker's first line closed the pipe; its next lines (this job's) write into nothing.
        try await Task.sleep(for: .milliseconds(300))
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "piped", maxAttempts: 1, kind: .synthetic)).job.id
        #expect(try await eventually(timeout: .seconds(30)) { try await s.job(id: id)?.state.isFinished == true })
        let ended = try await s.job(id: id)
        #expect(ended?.state == .succeeded, "\(ended?.lastErrorMessage ?? "")")
        let worker = try #require(try await s.workers().first)
        #expect(worker.state == .running)
        kill(worker.pid, SIGTERM)
        #expect(await shell.wait().status == 0)
        #expect(try await s.workers().first?.state == .stopped)
    }

    /// `run-once` beside an idle worker of the same database runs its own job: the worker, woken by
    /// the enqueue, leased it first about half the time, and run-once failed "job N is not queued
    /// and due" (its job ran in the worker). Now the job is enqueued a minute ahead and run-once
    /// leases it by id, due or not.
    @Test func runOnceRunsItsJobBesideAnIdleWorker() async throws {
        #expect(try await run("ytauto", ["init"], cwd: dir.url, environment: env).status == 0)
        let w = try worker("--synthetic-stage-ms", "5", "--concurrency", "2")
        defer { w.kill(SIGKILL) }
        let s = try store()
        #expect(try await eventually { try await s.workers().contains { $0.state == .running } })
        let idle = try #require(try await s.workers().first { $0.state == .running }).id
        for i in 0..<5 {
            let r = try await run("ytauto", ["run-once", "facts", "--synthetic-stage-ms", "20", "--topic", "race \(i)"], cwd: dir.url, environment: env)
            #expect(r.status == 0, "run \(i): \(r.stdout)\(r.stderr)")
        }
        let jobs = try await s.jobs(matching: JobQuery(channel: "facts"), limit: 10)
        #expect(jobs.count == 5 && jobs.allSatisfy { $0.state == .succeeded })
        for job in jobs {
            let attempts = try await s.attempts(jobID: job.id)
            #expect(attempts.count == 1 && attempts[0].workerID != idle, "job \(job.id) ran in \(attempts.map(\.workerID)), the idle worker is \(idle)")
            #expect(try #require(job.scheduledAt) <= attempts[0].startedAt, "due from when it ran")
        }
        w.kill(SIGTERM)
        _ = await w.wait()
    }

    /// `run-once` stopped by a signal hands its job back with its channel's attempts: the one
    /// attempt it gives is for the operator watching, and a worker that then died with it made
    /// it `failed` at once.
    @Test func runOnceHandsItsJobBackWithTheChannelsAttempts() async throws {
        #expect(try await run("ytauto", ["init"], cwd: dir.url, environment: env).status == 0)
        let s = try store()
        let once = try Child(binary("ytauto"), ["run-once", "facts", "--synthetic-stage-ms", "3000", "--topic", "stopped"], cwd: dir.url, environment: env)
        defer { once.kill(SIGKILL) }
        #expect(try await eventually(timeout: .seconds(30)) {
            guard let job = try await s.jobs(matching: JobQuery(channel: "facts"), limit: 1).first else { return false }
            return try await !s.stages(jobID: job.id).isEmpty
        })
        once.kill(SIGTERM)
        let r = await once.wait()
        #expect(r.status == 1 && r.stdout.contains("handed back"), "\(r.stdout)\(r.stderr)")
        // Said as the signal came, not only when the grace ended.
        #expect(r.stderr.contains("stopping: the running stage has up to 30s to finish, then the job is handed back to the queue; a second signal stops at once"), "\(r.stderr)")
        let job = try #require(try await s.jobs(matching: JobQuery(channel: "facts"), limit: 1).first)
        #expect(job.state == .queued && job.attempt == 0)
        #expect(job.maxAttempts == ChannelConfig.defaults(for: .facts).maxAttempts && job.maxAttempts > 1, "\(job.maxAttempts)")
    }

    /// A job's completion leases the worker's next job in the same transaction: the next attempt
    /// starts at the very time (to the millisecond stored) the previous one finished.
    @Test func aFreedSlotTakesTheNextJobInItsCompletion() async throws {
        let s = try store()
        let ids = try await (0..<6).asyncMap { i in try await s.enqueue(NewJob(channel: "facts", topic: "t\(i)", kind: .synthetic)).job.id }
        let w = try worker("--synthetic-stage-ms", "1", "--concurrency", "1")
        #expect(try await eventually(timeout: .seconds(60)) { try await s.stats().byState[.succeeded] == 6 })
        w.kill(SIGTERM)
        let r = await w.wait()
        #expect(r.status == 0, "\(r.stderr)")
        let all = try await ids.asyncMap { id in try await s.attempts(jobID: id) }
        #expect(all.allSatisfy { $0.count == 1 })
        let attempts = all.compactMap(\.first)
        #expect(attempts.count == 6 && attempts.allSatisfy { $0.outcome == .succeeded })
        for (previous, next) in zip(attempts, attempts.dropFirst()) {
            #expect(next.startedAt == previous.finishedAt, "job \(next.jobID) started \(next.startedAt), job \(previous.jobID) ended \(String(describing: previous.finishedAt))")
        }
    }

    /// SIGTERM, and SIGHUP (a terminal closed under a foreground worker: its default action
    /// killed the worker like a crash and spent the jobs' attempts), hand the running jobs back.
    @Test(arguments: [SIGTERM, SIGHUP])
    func aStopSignalHandsBackRunningJobsWithoutSpendingAnAttempt(signal: Int32) async throws {
        let s = try store()
        let ids = try await (0..<2).asyncMap { i in try await s.enqueue(NewJob(channel: "facts", topic: "t\(i)", maxAttempts: 1, kind: .synthetic)).job.id }
        let w = try worker("--synthetic-stage-ms", "20000", "--concurrency", "2", "--grace", "200ms")
        #expect(try await eventually(timeout: .seconds(30)) {
            // Both inside their first stage, not merely leased.
            let a = try await s.stages(jobID: ids[0]).isEmpty == false
            let b = try await s.stages(jobID: ids[1]).isEmpty == false
            return a && b
        })
        w.kill(signal)
        // Bounded: a worker that took the signal and did nothing must not hang the suite.
        let stopped = try await eventually(timeout: .seconds(60)) { !w.isRunning }
        if !stopped { w.kill(SIGKILL) }
        let r = await w.wait()
        #expect(stopped && r.status == 0, "\(r.status) \(r.stderr)")
        for id in ids {
            let job = try #require(try await s.job(id: id))
            #expect(job.state == .queued && job.attempt == 0)
            #expect(try await s.attempts(jobID: id).map(\.outcome) == [.handedBack])
            #expect(try await s.stages(jobID: id).first?.errorCode == "worker.shutdown")
        }
    }

    @Test func withEnoughGraceTheStageFinishesBeforeHandBack() async throws {
        let s = try store()
        let id = try await s.enqueue(NewJob(channel: "facts", kind: .synthetic)).job.id
        let w = try worker("--synthetic-stage-ms", "3000", "--concurrency", "1", "--grace", "20s")
        // The signal goes as soon as a stage runs (watched from a thread of its own, so a loaded
        // test process cannot send it after the job is done).
        let signalled = try await watch(dbPath, until: "SELECT count(*) FROM job_stages WHERE job_id = ?", [id], timeout: 30) { w.kill(SIGTERM) }
        try #require(signalled != nil, "no stage of job \(id) started")
        let r = await w.wait()
        #expect(r.status == 0, "\(r.stderr)")
        // The stage that was running finished (within the grace) and no further one started.
        let stages = try await s.stages(jobID: id)
        #expect(!stages.isEmpty && stages.count < 7)
        #expect(stages.allSatisfy { $0.state == .succeeded }, "\(stages.map { "\($0.stage) \($0.state)" })")
        #expect(try await s.job(id: id)?.state == .queued)
        #expect(try await s.attempts(jobID: id).map(\.outcome) == [.handedBack])
        // The log names the stage that did not start as the next one; the attempt records the
        // last that ran (the log said "stage=<the next>" beside a record of the one before).
        let last = try #require(try await s.attempts(jobID: id).first?.stage)
        let next = Stage.names[try #require(Stage.names.firstIndex(of: last)) + 1]
        let line = try #require(r.stderr.split(separator: "\n").first { $0.contains("job handed back") }, "\(r.stderr)")
        #expect(line.contains("next_stage=\(next)") && !line.contains(" stage=\(next)"), "\(line)")
    }

    @Test func aSecondSignalExitsAtOnce() async throws {
        let s = try store()
        let id = try await s.enqueue(NewJob(channel: "facts", kind: .synthetic)).job.id
        let w = try worker("--synthetic-stage-ms", "120000", "--grace", "300s")
        // Inside its first stage (not merely leased, which a shutdown would hand back at once).
        // Both signals, and the time to the exit, from the watching thread: a test process whose
        // cooperative threads are busy must not send the second one after the stage has ended.
        let exitAfter = try await watch(dbPath, until: "SELECT count(*) FROM job_stages WHERE job_id = ?", [id], timeout: 30) {
            w.kill(SIGTERM)
            // Long enough for a loaded worker process to have taken the first signal as graceful.
            usleep(2_000_000)
            let sent = Date()
            w.kill(SIGTERM)
            _ = w.waitForExit()
            return Date().timeIntervalSince(sent)
        }
        let elapsed = try #require(exitAfter, "no stage of job \(id) started")
        let r = await w.wait()
        // Far sooner than the stage (120 s) or the grace (300 s) would end; the bound leaves room
        // for a loaded CI machine (8.6 s was once seen while the query-plan suite ran beside it).
        #expect(elapsed < 30)
        #expect(r.status == 128 + SIGTERM)
        #expect(r.stderr.contains("second signal"))
    }

    /// One synthetic job run by a `ytauto worker` with `workerArguments`, its cancel asked for
    /// once its first stage has begun.
    func cancelledInItsFirstStage(_ workerArguments: String...) async throws -> (store: SQLiteJobStore, id: Int64, worker: Child) {
        let s = try store()
        let id = try await s.enqueue(NewJob(channel: "facts", kind: .synthetic)).job.id
        let w = try worker(workerArguments)
        #expect(try await eventually(timeout: .seconds(30)) { try await s.stages(jobID: id).isEmpty == false })
        #expect(try await s.cancel(jobID: id) == .requested)
        return (s, id, w)
    }

    @Test func aCancelStopsARunningJob() async throws {
        // Heartbeats every 4 s (a third of the lease). A shorter lease lost the race under a loaded CI
        // run: the lease expired before a late heartbeat, and the sweep, not the worker, ended the job
        // (cancelled, as asked, but its stage closed with the lease's loss instead of the cancel).
        let (s, id, w) = try await cancelledInItsFirstStage("--synthetic-stage-ms", "60000", "--lease-seconds", "12")
        #expect(try await eventually(timeout: .seconds(30)) { try await s.job(id: id)?.state == .cancelled })
        #expect(try await s.attempts(jobID: id).map(\.outcome) == [.cancelled])
        #expect(try await s.stages(jobID: id).first?.errorCode == "job.cancelled")
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }

    /// A cancel is found at the next stage boundary, not only by a heartbeat: with heartbeats
    /// 200 s apart (a 600 s lease) and stages of 2 s, a cancel asked for during the first stage
    /// ends the job before its second starts, and nothing is published.
    @Test func aCancelStopsARunningJobAtTheNextStage() async throws {
        let (s, id, w) = try await cancelledInItsFirstStage("--synthetic-stage-ms", "2000", "--lease-seconds", "600")
        #expect(try await eventually(timeout: .seconds(30)) { [.cancelled, .succeeded, .failed].contains(try await s.job(id: id)?.state) })
        #expect(try await s.job(id: id)?.state == .cancelled)
        #expect(try await s.attempts(jobID: id).map(\.outcome) == [.cancelled])
        let stages = try await s.stages(jobID: id)
        #expect(stages.count <= 2 && !stages.contains { $0.stage == "publish" }, "\(stages.map { "\($0.stage) \($0.state)" })")
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }

    @Test func dryRunSkipsPublish() async throws {
        let s = try store()
        let id = try await s.enqueue(NewJob(channel: "facts", kind: .synthetic)).job.id
        let w = try worker("--synthetic-stage-ms", "1", "--dry-run")
        #expect(try await eventually(timeout: .seconds(30)) { try await s.job(id: id)?.state == .succeeded })
        #expect(try await s.stages(jobID: id).first { $0.stage == "publish" }?.state == .skipped)
        w.kill(SIGINT)
        #expect(await w.wait().status == 0)
    }
}
