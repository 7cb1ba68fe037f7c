import Foundation
import Logging
import ServiceLifecycle
import YTAutoCore

/// How a ``QueueWorker`` runs.
public struct QueueWorkerConfiguration: Sendable {
    public var concurrency = 2
    public var channels: [String]? = nil
    public var grace: Duration = .seconds(30)
    public var leaseDuration: Duration = .seconds(30)
    public var heartbeatInterval: Duration = .seconds(5)
    /// How often it looks for dead workers and expired leases.
    public var sweepInterval: Duration = .seconds(1)
    /// The longest an idle worker sleeps between looks when nothing signals new work: for
    /// writers outside ytauto (the `sqlite3` shell), which do not signal.
    public var pollInterval: Duration = .seconds(1)
    public var dryRun = false
    /// The longest one stage may run. Past it the stage's work is cancelled (ffmpeg and espeak-ng
    /// processes are killed) and the attempt fails `stage.timeout`, retryable, whether or not the
    /// work has stopped: a tool or library that hangs never holds a job, or a worker's slot,
    /// forever. Six hours by default: a long video's compose takes about its own length on a
    /// 2-core host (docs/benchmarks.md).
    public var stageTimeout: Duration = .seconds(6 * 3600)
    /// A stage stopped at its timeout whose work has not returned this long after (it ignores
    /// cancellation: a library call in this process) is logged as an error, then again every
    /// ``stoppedWorkReportInterval`` until it returns: its job's next run cannot have the work
    /// folder meanwhile (it fails `work.stuck` in the end, and is queued again if the work returns:
    /// ``watchStopped(_:stage:jobID:log:)``), and only a restart of this worker ends it.
    public var stoppedWorkReportAfter: Duration = .seconds(60)
    public var stoppedWorkReportInterval: Duration = .seconds(600)
    /// How often it looks for jobs that failed `work.stuck` whose held work has ended here since
    /// (``StagedPipeline/heldWorkEnded(job:)``: the worker that held it was restarted or died),
    /// and queues them again, as `ytauto-admin retry` would.
    public var stuckCheckInterval: Duration = .seconds(30)
    /// Told of every stage as it starts and ends (`ytauto run-once` draws progress with it).
    public var observer: (@Sendable (WorkerEvent) -> Void)? = nil
    public init() {}
}

/// The worker process's service: leases jobs, heartbeats them, runs their stages through
/// checkpoints, and shuts down gracefully. It depends on the store's contract only
/// (``WorkerStore``): the engine says how a worker proves it is alive and how it is woken.
///
/// - Waiting: idle, it sleeps on the store's work signal (an enqueue, a job queued again, a
///   dead worker's jobs freed, a job of its own ending, in any process), with a poll every
///   ``Configuration/pollInterval`` for writers outside ytauto; when woken it reads whether a
///   job is due before it takes the write lock to lease.
/// - Cancellation: a cancel request seen by a heartbeat cancels the running stage's task;
///   the job ends `cancelled`. A lost lease cancels the work and writes nothing more; so does a
///   lease the worker can no longer prove (no heartbeat acknowledged for a whole lease, or for
///   the store's ``WorkerStore/leaseProofBound`` if shorter: the database unreachable), since
///   another worker may hold the job by then.
/// - Threads: its bookkeeping (leasing, checkpoints, heartbeats, the sweep) runs on the
///   store's ``WorkerStore/bookkeepingExecutor`` (on SQLite the file's `DatabaseThread`, where
///   the store's transactions run without a hop to a dispatch queue and back); the stages' own
///   work runs on Swift's global executor.
/// - Success: once a job is recorded `succeeded`, the pipeline's ``StagedPipeline/succeeded(job:dryRun:)``
///   tidies after it (the media pipeline removes its work folder); the worker itself knows no files.
/// - Graceful shutdown (SIGTERM, SIGINT, SIGHUP): it stops leasing; running stages may finish within
///   the grace period; the jobs are then handed back without spending an attempt. A stage
///   still running when the grace ends is cancelled, recorded `failed` (`worker.shutdown`),
///   and its job handed back.
public final class QueueWorker<Store: WorkerStore>: Service, Sendable {
    public typealias Configuration = QueueWorkerConfiguration

    let store: Store
    let pipeline: any StagedPipeline
    let configuration: Configuration
    let logger: Logger
    private let inFlight = InFlight()
    /// Where this worker's bookkeeping runs (``WorkerStore/bookkeepingExecutor``).
    private let thread: any TaskExecutor

    public init(store: Store, pipeline: any StagedPipeline, configuration: Configuration, logger: Logger) {
        self.store = store
        self.pipeline = pipeline
        self.configuration = configuration
        self.logger = logger
        self.thread = store.bookkeepingExecutor
    }

    public func run() async throws {
        try await withTaskExecutorPreference(thread) { try await self.runHere() }
    }

    private func runHere() async throws {
        let registration = try await store.registerWorker()
        let log: Logger = {
            var l = logger
            l[metadataKey: "worker"] = "\(registration.id)"
            return l
        }()
        log.info("worker started", metadata: [
            "concurrency": "\(configuration.concurrency)",
            "channels": "\(configuration.channels?.joined(separator: ",") ?? "all")",
            "dry_run": "\(configuration.dryRun)",
            "pipeline": "\(pipelineName)", "leases": "\(pipeline.kind.rawValue) jobs",
        ])
        let sweeper = Task(executorPreference: thread) { [store, configuration] in
            // The sweep runs every `sweepInterval`: an error that persists (a full disk) is logged
            // when it starts or changes, then at growing intervals, and its end once.
            var failures = RepeatedFailure()
            var sweeps = 0
            var nextStuckCheck = ContinuousClock.now
            while !Task.isCancelled {
                do {
                    if let mended = try await store.keepRegistration(registration) { log.warning("\(mended)") }
                    let report = try await store.reclaim()
                    if !report.isEmpty {
                        log.warning("reclaimed jobs", metadata: [
                            "dead_workers": "\(report.deadWorkers)", "requeued": "\(report.requeued)", "failed": "\(report.failed)",
                        ])
                        await self.inFlight.nudge()
                    }
                    // `last_seen_at` is for people (liveness is the lock): every 20th sweep, about 20 s.
                    sweeps += 1
                    if sweeps % 20 == 1 { try await store.touchWorker(registration.id) }
                    if ContinuousClock.now >= nextStuckCheck {
                        nextStuckCheck = ContinuousClock.now + configuration.stuckCheckInterval
                        try await self.requeueStuckWhoseWorkEnded(log: log)
                    }
                    if let after = failures.succeeded() { log.notice("sweep works again \(after)") }
                } catch {
                    let text = "\(error)"
                    if failures.failed(text) { log.error("sweep failed: \(text)\(failures.note())") }
                }
                try? await Task.sleep(for: configuration.sweepInterval)
            }
        }
        await withGracefulShutdownHandler {
            await self.leaseLoop(registration: registration, log: log)
        } onGracefulShutdown: {
            log.info("graceful shutdown: no new leases; running stages may finish", metadata: ["grace": "\(self.configuration.grace)"])
            Task {
                await self.inFlight.stopLeasing()
                // The lease loop may be asleep waiting for work: wake it to see the shutdown.
                self.store.signalWork()
                await self.inFlight.beginShutdown(grace: self.configuration.grace)
            }
        }
        await inFlight.waitUntilEmpty()
        sweeper.cancel()
        // Leases whose answer was lost and not yet found go back without spending an attempt
        // (deregistering would release them as lost).
        if await inFlight.isInDoubt, let held = try? await store.leases(heldBy: registration.id) {
            await handBackLost(await inFlight.leftBehind(held), why: "as it stopped", log: log)
        }
        try await store.deregisterWorker(registration)
        log.info("worker stopped")
    }

    /// Runs one queued job to its end in this process (`ytauto run-once`), as a worker would:
    /// registered, leased, heartbeated, checkpointed. Returns the job as it ended (or was handed back).
    public func runOne(jobID: Int64) async throws -> Job {
        try await withTaskExecutorPreference(thread) { try await self.runOneHere(jobID: jobID) }
    }

    private func runOneHere(jobID: Int64) async throws -> Job {
        let registration = try await store.registerWorker()
        var log = logger
        log[metadataKey: "worker"] = "\(registration.id)"
        defer { Task(executorPreference: thread) { [store] in try? await store.deregisterWorker(registration) } }
        let leased: Lease?
        do {
            leased = try await store.lease(
                worker: registration.id, channels: nil, kind: pipeline.kind, pipeline: pipelineName,
                duration: configuration.leaseDuration, only: jobID)
        } catch {
            // No answer: the server may have committed the lease and lost only its reply. This run's
            // registration is its own and this was its only lease call, so a lease it holds is that one.
            guard let found = await leaseAfterLostAnswer(worker: registration.id, jobID: jobID, log: log) else { throw error }
            leased = found
        }
        guard let lease = leased else {
            throw JobStoreError.invalidArgument("job \(jobID) is not queued and due, so it cannot be run now")
        }
        var jobLog = log
        jobLog[metadataKey: "job_id"] = "\(lease.jobID)"
        jobLog[metadataKey: "channel"] = "\(lease.job.channel)"
        let control = JobControl()
        await inFlight.add(lease.jobID, control: control)
        let jl = jobLog
        await withGracefulShutdownHandler {
            await self.process(lease, control: control, log: jl, handOver: false)
        } onGracefulShutdown: {
            // Said at once: the operator at the terminal would otherwise wait up to the grace in silence.
            jl.warning("stopping: the running stage has up to \(DurationText.string(seconds: Int(self.configuration.grace.seconds.rounded()))) to finish, then the job is handed back to the queue; a second signal stops at once")
            Task { await self.inFlight.beginShutdown(grace: self.configuration.grace) }
        }
        await inFlight.remove(lease, outcome: .recorded)
        try await store.deregisterWorker(registration)
        guard let job = try await store.job(id: lease.jobID) else {
            throw JobStoreError.invalidArgument("job \(jobID) disappeared while it ran")
        }
        return job
    }

    private func leaseLoop(registration: Store.Registration, log: Logger) async {
        var lastVersion: Int64 = -1
        // A database that stays away fails every poll: logged as the sweep's failures are.
        var failures = RepeatedFailure()
        var nextDue: Date? = nil
        // Idle, it sleeps on the store's work signal (an enqueue, a job queued again, a dead
        // worker's jobs freed, a job of its own ending), not on a poll.
        while await !inFlight.isShuttingDown && !Task.isCancelled {
            let seen = store.workSequence
            do {
                if let mark = await inFlight.quietMark() {
                    try await adoptLostLeases(worker: registration.id, since: mark, log: log)
                }
                let free = configuration.concurrency - (await inFlight.count)
                if free > 0 {
                    let version = try await store.dataVersion()
                    let nudged = await inFlight.takeNudge()
                    let due = nextDue.map { $0 <= Date() } ?? false
                    if version != lastVersion || nudged || due {
                        lastVersion = version
                        // Most commits are not new work for us (other workers' checkpoints, heartbeats):
                        // look with a read first, and take the write lock only when a job is due.
                        let next = try await store.nextRunAt(channels: configuration.channels, kind: pipeline.kind)
                        guard let next, next <= Date() else {
                            nextDue = next
                            await waitForWork(seen: seen, nextDue: nextDue, waiter: registration.id)
                            continue
                        }
                        var leased = 0
                        while leased < free, await !inFlight.isShuttingDown {
                            await inFlight.beginLeaseCall()
                            let lease: Lease?
                            do {
                                lease = try await store.lease(
                                    worker: registration.id, channels: configuration.channels, kind: pipeline.kind,
                                    pipeline: pipelineName, duration: configuration.leaseDuration)
                            } catch {
                                // No answer is not "nothing leased": the server may have committed the lease.
                                await inFlight.endLeaseCall(inDoubt: true)
                                throw error
                            }
                            guard let lease else {
                                await inFlight.endLeaseCall(inDoubt: false)
                                break
                            }
                            leased += 1
                            await start(lease, log: log)
                            await inFlight.endLeaseCall(inDoubt: false)
                        }
                        nextDue = leased < free ? try await store.nextRunAt(channels: configuration.channels, kind: pipeline.kind) : nil
                    }
                }
                if let after = failures.succeeded() { log.notice("leasing works again \(after)") }
            } catch {
                let text = "\(error)"
                if failures.failed(text) { log.error("leasing failed: \(text)\(failures.note())") }
            }
            await waitForWork(seen: seen, nextDue: nextDue, waiter: registration.id)
        }
    }

    /// Sleeps until work is signalled after `seen` was read, a queued job comes due, or the
    /// poll interval passes (off the bookkeeping executor: the store waits where it may block).
    private func waitForWork(seen: UInt64, nextDue: Date?, waiter: String) async {
        var timeout = configuration.pollInterval
        if let nextDue { timeout = min(timeout, .milliseconds(Int64(max(0, nextDue.timeIntervalSinceNow) * 1000) + 1)) }
        await store.waitForWork(seen: seen, timeout: timeout, waiter: waiter)
    }

    private func start(_ lease: Lease, log: Logger) async {
        let control = JobControl()
        // Registered before the task starts, so a job that ends at once is still removed after it was added.
        await inFlight.add(lease.jobID, control: control)
        launch(lease, control: control, log: log)
    }

    /// Runs a registered lease's job in a task of its own.
    private func launch(_ lease: Lease, control: JobControl, log: Logger) {
        var jobLog = log
        jobLog[metadataKey: "job_id"] = "\(lease.jobID)"
        jobLog[metadataKey: "channel"] = "\(lease.job.channel)"
        let jl = jobLog
        Task(executorPreference: thread) {
            let ending = await self.process(lease, control: control, log: jl, handOver: true)
            await self.inFlight.remove(lease, outcome: ending)
            // A slot is free: the lease loop may be asleep waiting for work.
            self.store.signalWork()
        }
    }

    /// Runs the jobs this worker holds but does not run: leases whose answer was lost (a call
    /// that may have leased failed without an answer, such as a PostgreSQL connection that
    /// dropped after the server committed). Without this such a job would sit `running` until
    /// its lease expired, and then spend an attempt as `lease.expired`: a job with one attempt
    /// would fail for a network blip.
    ///
    /// Asked only when no call that may lease is under way, and taken only if none began and no
    /// job's task ended while the store was asked (`mark`), so a job whose answer is merely
    /// still on its way is never taken twice (``LeaseDoubt``). A lease this worker let go (its own
    /// write failed, or it could no longer prove the lease) is left to its expiry as before. A job
    /// beyond the worker's free slots is handed back without spending an attempt.
    private func adoptLostLeases(worker: String, since mark: UInt64, log: Logger) async throws {
        let held = try await store.leases(heldBy: worker)
        guard let found = await inFlight.adopt(held, since: mark, capacity: configuration.concurrency) else { return }
        for (lease, control) in found.run {
            // Renewed first: the lease was taken a while ago, and its expiry may be near.
            do {
                _ = try await store.heartbeat(lease, duration: configuration.leaseDuration)
            } catch {
                await inFlight.remove(lease, outcome: .recorded)
                // Another's by now (LeaseLost), or no answer again: then it is looked for again.
                if !(error is LeaseLost) { await inFlight.doubtAgain() }
                continue
            }
            log.warning("found a lease whose answer was lost; running its job", metadata: [
                "job_id": "\(lease.jobID)", "attempt": "\(lease.attempt)",
            ])
            launch(lease, control: control, log: log)
        }
        await handBackLost(found.handBack, why: "with no free slot", log: log)
    }

    /// After `run-once`'s lease call failed without an answer: the job's lease if the store says
    /// `worker` holds it (renewed, as it was taken a while ago), asked a few times while the store
    /// is unreachable; nil if it holds none (nothing was leased) or the store cannot say.
    private func leaseAfterLostAnswer(worker: String, jobID: Int64, log: Logger) async -> Lease? {
        for pause in [0, 1, 2, 4] as [Int64] {
            try? await Task.sleep(for: .seconds(pause))
            guard let held = try? await store.leases(heldBy: worker) else { continue }
            guard let lease = held.first(where: { $0.jobID == jobID }) else { return nil }
            do {
                _ = try await store.heartbeat(lease, duration: configuration.leaseDuration)
            } catch is LeaseLost {
                return nil
            } catch {
                continue  // no answer again: asked again
            }
            log.warning("found the lease whose answer was lost; running its job", metadata: ["job_id": "\(jobID)", "attempt": "\(lease.attempt)"])
            return lease
        }
        return nil
    }

    /// Hands back leases whose answer was lost, without spending their attempts. One that cannot
    /// be handed back (no answer again) leaves the worker in doubt, to be found next time.
    private func handBackLost(_ leases: [Lease], why: String, log: Logger) async {
        for lease in leases {
            do {
                _ = try await store.handBack(lease, reason: JobFailure(
                    code: "lease.answer_lost",
                    message: "the worker lost the answer to this lease and found it \(why); handed back",
                    isRetryable: true))
                log.warning("found a lease whose answer was lost, \(why); handed back (attempt not spent)", metadata: [
                    "job_id": "\(lease.jobID)",
                ])
            } catch is LeaseLost {
                // Another's by now: nothing of ours to give back.
            } catch {
                log.error("handing back a lease whose answer was lost failed: \(error)", metadata: ["job_id": "\(lease.jobID)"])
                await inFlight.doubtAgain()
            }
        }
    }

    /// Runs every unfinished stage of a leased job, with a heartbeat beside it.
    ///
    /// With `handOver`, a job that succeeds passes its slot on: its completion leases the next
    /// due job, which starts at once (``JobStore/complete(_:thenLease:)``).
    ///
    /// Returns how the task ended as far as the lease goes (``LeaseDoubt/Ending``): `.inDoubt`
    /// when a write about the job failed without an answer, so the job may still be leased to
    /// this worker (its lease will expire); `.letGo` when the worker stopped it without a write.
    @discardableResult
    func process(_ lease: Lease, control: JobControl, log: Logger, handOver: Bool) async -> LeaseDoubt.Ending {
        log.info("leased", metadata: ["attempt": "\(lease.attempt)/\(lease.job.maxAttempts)", "topic": "\(lease.job.topic ?? "-")"])
        let heartbeat = Task(executorPreference: thread) { [store, configuration] in
            // How long an acknowledged heartbeat proves the lease: the lease's length, or less where
            // other hosts may find this worker dead sooner (``WorkerStore/leaseProofBound``); beats
            // come at least three times within it.
            let proof = min(configuration.leaseDuration, store.leaseProofBound ?? configuration.leaseDuration)
            let interval = min(configuration.heartbeatInterval, proof / 3)
            // Until when this worker can prove the lease is its own, from the last heartbeat the store
            // acknowledged (on this host's monotonic clock, which no clock change moves).
            var provenUntil = ContinuousClock.now + proof
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                let sent = ContinuousClock.now
                // A heartbeat that hangs (a cut link) is not waited for past the lease: by then another
                // worker may hold the job, so this one stops its work (its writes would be refused by
                // the fence anyway; stopping saves the machine the work, and the job a second runner).
                switch await Deadline.race(until: provenUntil, { try await store.heartbeat(lease, duration: configuration.leaseDuration) }) {
                case .finished(.success(.cancelRequested)):
                    provenUntil = sent + proof
                    log.info("cancel requested")
                    await control.stop(.cancelRequested)
                case .finished(.success):
                    provenUntil = sent + proof
                case .finished(.failure(let error)) where error is LeaseLost:
                    // The job's own ending moved it on (a long tidy after its completion): nothing lost.
                    if await control.isEnding { return }
                    log.warning("lease lost; stopping without further writes")
                    await control.stop(.leaseLost)
                    return
                case .finished(.failure(let error)):
                    log.error("heartbeat failed: \(error)")
                    if ContinuousClock.now >= provenUntil {
                        log.warning("the lease can no longer be proven (no heartbeat acknowledged for \(proof)); stopping the job's work")
                        await control.stop(.leaseLost)
                        return
                    }
                case .passed:
                    log.warning("the lease can no longer be proven (no heartbeat acknowledged for \(proof)); stopping the job's work")
                    await control.stop(.leaseLost)
                    return
                }
            }
        }
        defer { heartbeat.cancel() }
        do {
            let records = try await store.stages(jobID: lease.jobID)
            // Verifying hashes the recorded files (hundreds of MB for a long video): off the database thread.
            let done = await Task(executorPreference: globalConcurrentExecutor) {
                Set(records.filter { Self.verified($0) }.map(\.stage))
            }.value
            let recorded = Dictionary(records.map { ($0.stage, $0) }, uniquingKeysWith: { a, _ in a })
            let notes = recorded.mapValues(\.notes)
            // Stages whose files no longer follow from what they read: a stage they read was made
            // again in this run with other files (also marked in the store, for a later run).
            var stale: Set<String> = []
            let observe = configuration.observer ?? { _ in }
            // Whether this run made a stage again with other files: past a review, what it made
            // was not approved.
            var remade = false
            // Whether one of those stages had been recorded done before (not a job's first time through).
            var remadeRecorded = false
            // Whether a stage ran since the job's cancel request was last looked at.
            var ranAStage = false
            for (index, stage) in pipeline.stages.enumerated() {
                var stageLog = log
                stageLog[metadataKey: "stage"] = "\(stage)"
                // A cancel asked for since the last heartbeat stops the job here, at the stage
                // boundary, as promised: stages often take less than a heartbeat's interval, and the
                // publish must not start. One read of the job (no write) after each stage that ran.
                if ranAStage, await control.reason == nil, try await store.job(id: lease.jobID)?.cancelRequested == true {
                    stageLog.info("cancel requested; stopping before this stage")
                    await control.stop(.cancelRequested)
                }
                ranAStage = false
                let shuttingDown = await inFlight.isShuttingDown
                if let reason = await control.reason ?? (shuttingDown ? .shutdown : nil) {
                    await control.ending()
                    // Between stages: this one never started (the attempt records the last that
                    // ran), so the log names it as the next, not as the stage it stopped in.
                    var boundaryLog = log
                    boundaryLog[metadataKey: "next_stage"] = "\(stage)"
                    return try await end(lease, reason: reason, stage: nil, started: Date(), log: boundaryLog)
                }
                if done.contains(stage) && !stale.contains(stage) {
                    stageLog.info("stage already done; skipped")
                    observe(.stage(job: lease.jobID, stage: stage, index: index, count: pipeline.stages.count, state: .alreadyDone))
                    continue
                }
                if !configuration.dryRun, pipeline.needsReview(before: stage, job: lease.job) {
                    await control.ending()
                    if case .held = try await store.holdForReview(lease, stage: stage, remade: remade) {
                        observe(.stage(job: lease.jobID, stage: stage, index: index, count: pipeline.stages.count, state: .heldForReview))
                        let again = remadeRecorded ? "; stages before it were made again with other files in this run, so an approval given before would not count" : ""
                        stageLog.info("waiting for review before this stage (ytauto-admin approve|reject, or the console); no worker holds it\(again)")
                        return .recorded
                    }
                    await control.ending(false)
                }
                let started = Date()
                ranAStage = true
                observe(.stage(job: lease.jobID, stage: stage, index: index, count: pipeline.stages.count, state: .started))
                try await store.checkpoint(lease, stage: stage, state: .running, artifacts: [], startedAt: started, error: nil)
                stageLog.info("stage started")
                let context = StageContext(dryRun: configuration.dryRun, notes: notes[stage] ?? [:],
                                           stageTimeout: configuration.stageTimeout, worker: lease.owner) { [store] more in
                    try await store.saveStageNotes(lease, stage: stage, notes: more)
                }
                // The stage's own work (files, hashing, waiting on ffmpeg) stays off the database thread.
                let work = Task(executorPreference: globalConcurrentExecutor) { [pipeline] in
                    try await pipeline.run(stage: stage, job: lease.job, context: context)
                }
                await control.setWork(work)
                let outcome: StageOutcome
                do {
                    switch await Deadline.race(until: .now + configuration.stageTimeout, { try await work.value }) {
                    case .finished(let result):
                        outcome = try result.get()
                    case .passed:
                        work.cancel()
                        watchStopped(work, stage: stage, jobID: lease.job.id, log: stageLog)
                        let limit = DurationText.string(seconds: Int(configuration.stageTimeout.seconds.rounded()))
                        throw JobFailure(code: "stage.timeout", message: "ran longer than \(limit) (the worker's --stage-timeout) and was stopped",
                                         isRetryable: true)
                    }
                } catch {
                    if let reason = await control.reason, error is CancellationError {
                        await control.ending()
                        return try await end(lease, reason: reason, stage: stage, started: started, log: stageLog)
                    }
                    // The stop signal reached the stage's tool as well as the worker (systemd's
                    // default KillMode signals every process of the unit): the stage did not fail,
                    // the worker is stopping. The worker's own signal may land a moment after the
                    // tool's exit, so a tool stopped by a signal waits a little for it.
                    if let tool = error as? FFmpegError, tool.wasStoppedBySignal {
                        var stopping = await inFlight.isShuttingDown
                        if !stopping {
                            try? await Task.sleep(for: .milliseconds(500))
                            stopping = await inFlight.isShuttingDown
                        }
                        if stopping {
                            stageLog.notice("the stage's tool was stopped by the signal that stops this worker")
                            await control.ending()
                            return try await end(lease, reason: .shutdown, stage: stage, started: started, log: stageLog)
                        }
                    }
                    let failure = JobFailure(PipelineError(stage: stage, underlying: error))
                    try await store.checkpoint(lease, stage: stage, state: .failed, artifacts: [], startedAt: started, error: failure)
                    await control.ending()
                    let job = try await store.fail(lease, error: failure)
                    observe(.stage(job: lease.jobID, stage: stage, index: index, count: pipeline.stages.count,
                                   state: .failed(failure.message, seconds: Date().timeIntervalSince(started))))
                    stageLog.error("stage failed: \(failure)", metadata: ["next": "\(job.state.rawValue)"])
                    return .recorded
                }
                switch outcome {
                case .done(let artifacts):
                    // Made with other files than were recorded (or none were): the later stages
                    // that read them are made again, even where their own files are intact. Marked
                    // in the store before this stage is recorded done, so a worker that dies in
                    // between leaves them marked. Past a review, what was approved changed too;
                    // files made again byte for byte change neither.
                    let before = recorded[stage].flatMap { $0.isDone ? Set($0.artifacts) : nil }
                    if before != Set(artifacts) {
                        remade = true
                        remadeRecorded = remadeRecorded || before != nil
                        let readers = pipeline.stages[(index + 1)...].filter { pipeline.inputs(of: $0).contains(stage) }
                        let marked = readers.filter { recorded[$0]?.isDone == true }
                        stale.formUnion(readers)
                        if !marked.isEmpty {
                            try await store.markStagesStale(lease, stages: marked,
                                because: "\(stage), which it reads, was made again with other files; it is made again too")
                            stageLog.notice("made again with other files than before: \(marked.joined(separator: ", ")) will be made again too")
                        }
                    }
                    try await store.checkpoint(lease, stage: stage, state: .succeeded, artifacts: artifacts, startedAt: started, error: nil)
                    observe(.stage(job: lease.jobID, stage: stage, index: index, count: pipeline.stages.count,
                                   state: .done(seconds: Date().timeIntervalSince(started))))
                    stageLog.info("stage done", metadata: ["seconds": "\(String(format: "%.3f", Date().timeIntervalSince(started)))"])
                case .skipped:
                    try await store.checkpoint(lease, stage: stage, state: .skipped, artifacts: [], startedAt: started, error: nil)
                    observe(.stage(job: lease.jobID, stage: stage, index: index, count: pipeline.stages.count, state: .skipped))
                    stageLog.info("stage skipped (dry run)")
                }
            }
            // The freed slot takes the next due job in the same step (one transaction on SQLite),
            // unless this is `run-once` or the worker is shutting down.
            let shuttingDown = await inFlight.isShuttingDown
            let request = handOver && !shuttingDown
                ? LeaseRequest(worker: lease.owner, channels: configuration.channels, kind: pipeline.kind,
                               pipeline: pipelineName, duration: configuration.leaseDuration)
                : nil
            if request != nil { await inFlight.beginLeaseCall() }
            let completion: Completion
            await control.ending()
            do {
                completion = try await store.complete(lease, thenLease: request)
            } catch {
                // Without an answer the next job may have been leased (LeaseLost is an answer: nothing was).
                if request != nil { await inFlight.endLeaseCall(inDoubt: !(error is LeaseLost)) }
                throw error
            }
            let completed = completion.job
            log.info("job succeeded")
            // Registered before this job's slot is given up, so the lease loop never sees it free meanwhile.
            if let next = completion.next { await start(next, log: log) }
            if request != nil { await inFlight.endLeaseCall(inDoubt: completion.nextUnknown) }
            // Removing a work folder (GBs for a long video) stays off the database thread.
            let tidied = await Task(executorPreference: globalConcurrentExecutor) { [pipeline, configuration] () -> String? in
                do {
                    try await pipeline.succeeded(job: completed, dryRun: configuration.dryRun)
                    return nil
                } catch {
                    return "\(error)"
                }
            }.value
            if let tidied { log.warning("the job succeeded, but tidying its files failed: \(tidied)") }
        } catch is LeaseLost {
            log.warning("lease lost; the job belongs to another worker now")
        } catch {
            log.error("job bookkeeping failed: \(error); the lease will expire and the job will be retried")
            return .inDoubt
        }
        return .recorded
    }

    /// What each attempt records as the pipeline that ran it.
    var pipelineName: String { pipeline.name + (configuration.dryRun ? " (dry run)" : "") }

    /// Ends a job early: cancelled, handed back on shutdown, or left alone when the lease was lost.
    private func end(_ lease: Lease, reason: JobControl.StopReason, stage: String?, started: Date, log: Logger) async throws -> LeaseDoubt.Ending {
        switch reason {
        case .leaseLost:
            return .letGo
        case .cancelRequested:
            if let stage {
                try await store.checkpoint(lease, stage: stage, state: .failed, artifacts: [], startedAt: started,
                                           error: JobFailure(code: "job.cancelled", message: "cancelled by an operator", isRetryable: false))
            }
            _ = try await store.markCancelled(lease)
            log.info("job cancelled")
        case .shutdown:
            let why: JobFailure
            if let stage {
                why = JobFailure(code: "worker.shutdown", message: "the worker shut down and its grace period (\(configuration.grace)) ended during stage \(stage)", isRetryable: true)
                try await store.checkpoint(lease, stage: stage, state: .failed, artifacts: [], startedAt: started, error: why)
            } else {
                why = JobFailure(code: "worker.shutdown", message: "the worker shut down; handed back between stages, before the next one started", isRetryable: true)
            }
            _ = try await store.handBack(lease, reason: why)
            log.info("job handed back (attempt not spent)")
        }
        return .recorded
    }

    /// Whether a recorded stage is done and its artifacts are still on disk, unchanged.
    static func verified(_ record: StageRecord) -> Bool {
        guard record.isDone else { return false }
        return record.artifacts.allSatisfy { a in
            guard let (hex, bytes) = try? Checksum.sha256Hex(fileAt: URL(fileURLWithPath: a.path)) else { return false }
            return hex == a.sha256 && bytes == a.bytes
        }
    }
}

/// What a worker tells its observer.
public enum WorkerEvent: Sendable {
    public enum StageState: Sendable {
        case started
        case done(seconds: Double)
        case skipped
        /// Recorded done by an earlier attempt, with its artifacts intact.
        case alreadyDone
        case failed(String, seconds: Double)
        /// The job stopped before this stage to wait for an operator's review.
        case heldForReview
    }

    case stage(job: Int64, stage: String, index: Int, count: Int, state: StageState)
}

extension QueueWorker {
    /// Queues again each job of this pipeline's kind that failed `work.stuck` in the last
    /// ``stuckLookBack`` and whose held work has ended: it failed only for want of its work folder,
    /// held by a run that was stopped and never returned; once that run's worker is restarted or
    /// dies, the job goes on from its finished stages, with no operator's `retry`. Ended means the
    /// folder is free here (``StagedPipeline/heldWorkEnded(job:)``, on the host that ran it), or,
    /// where this host cannot tell, that the worker whose process held it has stopped or was found
    /// dead for a while (``HeldWorkHolder/ended(among:now:)``): so a job whose holder's host is gone for good (a
    /// container replaced under another name) is not left failed. (The newest ``stuckLookLimit``
    /// of them, read by their code through an index; one retried meanwhile by someone else is
    /// left as it is.)
    func requeueStuckWhoseWorkEnded(log: Logger) async throws {
        let failed = try await store.listFailed(
            channel: nil, code: JobFailure.workStuckCode, since: Date().addingTimeInterval(-Self.stuckLookBack), limit: Self.stuckLookLimit)
        var workers: [WorkerRecord]?  // the whole registry, read once a look if a job's holder names no worker
        for job in failed where job.kind == pipeline.kind {
            var why = "the run that held the folder has ended"
            // A lock probe on the job's folder, which may sit on a shared mount: off the bookkeeping thread.
            let ended = await Task(executorPreference: globalConcurrentExecutor) { [pipeline] in pipeline.heldWorkEnded(job: job) }.value
            switch ended {
            case true?: break
            case false?: continue
            case nil:
                guard let holder = pipeline.heldWorkHolder(job: job) else { continue }
                let records: [WorkerRecord]
                if let id = holder.worker {
                    records = try await store.worker(id: id).map { [$0] } ?? []
                } else {  // a holder of an older ytauto named no worker: matched by host and process
                    if workers == nil { workers = try await store.workers() }
                    records = workers ?? []
                }
                guard holder.ended(among: records, now: Date()) == true else { continue }
                why = "the worker whose run held the folder (\(holder)) has stopped or died"
            }
            try await requeueStuck(job, because: why, log: log)
        }
    }

    /// Queues again a job that failed `work.stuck` whose held work has ended, and says `why` at
    /// notice level; only as it was read (its `updatedAt`): one retried, cancelled or failed again
    /// otherwise since is left as it is, and false is returned. The store's retry wakes idle
    /// workers; the nudge is for this worker's own lease loop, whose look at the data version does
    /// not see its own write.
    @discardableResult
    func requeueStuck(_ job: Job, because why: String, log: Logger) async throws -> Bool {
        guard try await store.retry(jobID: job.id, ifUnchangedSince: job.updatedAt) != nil else { return false }
        await inFlight.nudge()
        log.notice("""
            the job failed \(JobFailure.workStuckCode) waiting for its work folder; \(why), so the job is queued again
            """, metadata: ["job": "\(job.id)", "channel": "\(job.channel)"])
        return true
    }

    /// How far back, and at how many `work.stuck` jobs, ``requeueStuckWhoseWorkEnded(log:)`` looks.
    static var stuckLookBack: TimeInterval { 7 * 86_400 }
    static var stuckLookLimit: Int { 500 }

    /// Says, at error level, that a stage stopped at its timeout is still running: after
    /// ``QueueWorkerConfiguration/stoppedWorkReportAfter``, then every
    /// ``QueueWorkerConfiguration/stoppedWorkReportInterval``; and when it returns at last.
    /// If the job failed `work.stuck` meanwhile (its next run gave up
    /// waiting for the folder this work held), it failed for this work alone: now that the folder is
    /// free, the job is queued again (``requeueStuck(_:because:log:)``, as `ytauto-admin retry`
    /// would), and said so. A job that failed for any other reason, or was retried or cancelled since, is
    /// left as it is.
    func watchStopped(_ work: Task<StageOutcome, any Error>, stage: String, jobID: Int64, log: Logger) {
        let stopped = ContinuousClock.now
        let (first, every) = (configuration.stoppedWorkReportAfter, configuration.stoppedWorkReportInterval)
        let reporter = Task {
            var wait = first
            while true {
                do { try await Task.sleep(for: wait) } catch { return }
                guard !Task.isCancelled else { return }  // it returned as the sleep ended
                log.error("""
                    stage stopped at its --stage-timeout has not returned: its work ignores the stop and holds the job's \
                    work folder, so the job's next run waits for it (and fails work.stuck once the folder has been held \
                    for longer than --stage-timeout and 10 minutes); restarting this worker ends it
                    """, metadata: ["process": "\(getpid())", "seconds_since_stop": "\(Int((ContinuousClock.now - stopped).seconds))"])
                wait = every
            }
        }
        Task {
            _ = await work.result
            reporter.cancel()
            let took = ContinuousClock.now - stopped
            if took >= first {
                log.notice("stage stopped at its --stage-timeout returned at last", metadata: ["seconds_since_stop": "\(Int(took.seconds))"])
            }
            do {
                // As read: one queued again meanwhile (a worker found the folder free, an operator) is left.
                guard let job = try await store.job(id: jobID), job.state == .failed, job.lastErrorCode == JobFailure.workStuckCode else { return }
                try await requeueStuck(job, because: "the work of this stage, stopped here, has returned and freed it", log: log)
            } catch {
                log.error("""
                    the job may have failed \(JobFailure.workStuckCode) waiting for this stage's work, which has returned; it could not be \
                    queued again (\(error)): run ytauto-admin retry \(jobID)
                    """)
            }
        }
    }
}

/// One running job's stop switch.
actor JobControl {
    enum StopReason: Sendable { case cancelRequested, leaseLost, shutdown }
    private(set) var reason: StopReason?
    private var work: Task<StageOutcome, any Error>?
    /// The job's own last write (its completion, failure, hand-back or hold for review) is under
    /// way or done: a heartbeat refused now was refused because of it, not because the lease was lost.
    private(set) var isEnding = false

    func ending(_ on: Bool = true) { isEnding = on }

    func setWork(_ task: Task<StageOutcome, any Error>) {
        work = task
        if reason != nil { task.cancel() }
    }

    func stop(_ why: StopReason) {
        if reason == nil { reason = why }
        work?.cancel()
    }
}

/// The worker's running jobs, and its shutdown state.
actor InFlight {
    private var jobs: [Int64: JobControl] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var nudged = false
    private(set) var isShuttingDown = false

    /// Leases this worker may hold without knowing it (``LeaseDoubt``).
    private var doubt = LeaseDoubt()

    var count: Int { jobs.count }

    func add(_ id: Int64, control: JobControl) { jobs[id] = control }

    /// Before a store call that may lease a job; ``endLeaseCall(inDoubt:)`` after its lease, if
    /// any, is registered (or it failed).
    func beginLeaseCall() { doubt.callBegan() }

    func endLeaseCall(inDoubt: Bool) { doubt.callEnded(inDoubt: inDoubt) }

    /// A mark to pass to ``adopt(_:since:capacity:)`` when this worker may hold leases whose
    /// answer it lost (``LeaseDoubt/quietMark()``).
    func quietMark() -> UInt64? { isShuttingDown ? nil : doubt.quietMark() }

    var isInDoubt: Bool { doubt.isInDoubt }

    func doubtAgain() { doubt.doubtAgain() }

    /// Of the leases the store says this worker holds, the ones it neither runs nor let go:
    /// registered here up to the free slots (to run), the rest to hand back; nil if a call that
    /// may lease began or a job's task ended since `mark`
    /// (``LeaseDoubt/settle(held:since:running:freeSlots:)``).
    func adopt(_ held: [Lease], since mark: UInt64, capacity: Int) -> (run: [(Lease, JobControl)], handBack: [Lease])? {
        let free = isShuttingDown ? 0 : capacity - jobs.count
        let keys = held.map { LeaseDoubt.LeaseKey(jobID: $0.jobID, token: $0.token) }
        guard let settled = doubt.settle(held: keys, since: mark, running: Set(jobs.keys), freeSlots: free) else { return nil }
        let byKey = Dictionary(zip(keys, held), uniquingKeysWith: { a, _ in a })
        let run = settled.run.compactMap { key in byKey[key].map { lease in
            let control = JobControl()
            jobs[key.jobID] = control
            return (lease, control)
        } }
        return (run, settled.handBack.compactMap { byKey[$0] })
    }

    /// At shutdown, once no job runs: every lease the store says this worker holds and it did
    /// not let go, to hand back (nothing is under way, so the store's answer is current).
    func leftBehind(_ held: [Lease]) -> [Lease] {
        guard jobs.isEmpty, let mark = doubt.quietMark() else { return [] }
        return adopt(held, since: mark, capacity: 0)?.handBack ?? []
    }

    /// The job's task ended (``LeaseDoubt/Ending``).
    func remove(_ lease: Lease, outcome: LeaseDoubt.Ending) {
        jobs[lease.jobID] = nil
        doubt.jobEnded(LeaseDoubt.LeaseKey(jobID: lease.jobID, token: lease.token), outcome: outcome)
        nudged = true
        if jobs.isEmpty {
            for w in waiters { w.resume() }
            waiters.removeAll()
        }
    }

    /// Something changed that our own connection's data_version does not show.
    func nudge() { nudged = true }

    func takeNudge() -> Bool {
        defer { nudged = false }
        return nudged
    }

    func stopLeasing() { isShuttingDown = true }

    func beginShutdown(grace: Duration) async {
        isShuttingDown = true
        guard !jobs.isEmpty else { return }
        try? await Task.sleep(for: grace)
        for (_, control) in jobs { await control.stop(.shutdown) }
    }

    func waitUntilEmpty() async {
        if jobs.isEmpty { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}
