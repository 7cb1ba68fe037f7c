import Foundation

/// What a worker runs for a job: an ordered list of stages, each checkpointed.
///
/// A stage must be safe to run again after a crash (it writes to temporary names and
/// renames into place); the worker records it in `job_stages` before and after.
public protocol StagedPipeline: Sendable {
    var stages: [String] { get }
    /// The jobs it runs: a worker leases only jobs of its pipeline's kind.
    var kind: JobKind { get }
    /// What each attempt records as the pipeline that ran it (`job_attempts.pipeline`).
    var name: String { get }
    /// Runs one stage of `job` and returns its artifacts. Honours task cancellation.
    func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome
    /// Told once `job` is recorded `succeeded` (every stage done, `dryRun` as the worker ran it),
    /// so the pipeline can drop what the job no longer needs (its intermediate files) without
    /// the worker knowing about files. An error is logged by the worker; the job stays succeeded.
    /// Not called for failed, cancelled or handed-back jobs. Default: nothing.
    func succeeded(job: Job, dryRun: Bool) async throws
    /// The earlier stages whose files `stage` reads. A worker that makes one of them again with
    /// other files than it had recorded (they were gone: another host without a shared
    /// `work_dir`, a cleaned folder) makes `stage` again too, though its own files are intact:
    /// clips timed for the old narration must not meet the new one. Default: every earlier stage.
    func inputs(of stage: String) -> [String]
    /// Whether `job` must stop for an operator's review before `stage` runs (a channel with
    /// `review: true`, before publishing). The worker then asks the store to hold it
    /// (``WorkerStore/holdForReview(_:stage:)``) unless it was approved. Not asked in a dry run,
    /// which publishes nothing. Default: never.
    func needsReview(before stage: String, job: Job) -> Bool
    /// Asked of a job that failed `work.stuck` (a run of it held its work here and never ended):
    /// true once nothing holds that work here any longer (the worker that ran it was restarted or
    /// died), so the worker queues the job again; false while it is held; nil if this pipeline
    /// cannot tell here (the job's work is on another host). Default: nil.
    func heldWorkEnded(job: Job) -> Bool?
    /// Asked of a job that failed `work.stuck` when ``heldWorkEnded(job:)`` cannot tell here: the
    /// process, and its host, whose run held the job's work, as the job's error names it. The
    /// worker then judges by that process's worker record (``HeldWorkHolder/ended(among:now:)``).
    /// Default: nil (none named).
    func heldWorkHolder(job: Job) -> HeldWorkHolder?
}

/// The process whose run held a job's work (a stage's work folder) and never returned, as it
/// wrote itself into the folder's lock: its host, its process id, and since when it held it, by
/// its own host's clock.
public struct HeldWorkHolder: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var pid: Int32
    public var since: Date
    /// The holder's worker id, where it wrote one (a holder of an older ytauto did not).
    public var worker: String?

    public init(host: String, pid: Int32, since: Date, worker: String? = nil) {
        self.host = host
        self.pid = pid
        self.since = since
        self.worker = worker
    }

    /// How far the holder's clock may be ahead of the clock that stamped its worker's start (the
    /// database server's, on PostgreSQL): the margin `work.stuck` itself allows between hosts.
    public static let clockMargin: TimeInterval = 600

    /// How long a worker must have been found dead before its run counts as ended: on PostgreSQL
    /// a worker is found dead when its database session is, and one whose session only dropped
    /// (a network cut, a server restart) comes back `running` when it reconnects.
    public static let deadFor: TimeInterval = 600

    /// Whether the run ended, judged by its worker's record among `workers`: the worker of that id
    /// where the holder named one (ids are unique; host name and process id are not: containers
    /// on the host's network share its name, and each may run its worker as process 1); else the
    /// newest worker of that host and process id that started before the hold began and had not
    /// stopped before it (a process id used again by another worker, before or after, is not it).
    /// True once that worker stopped (it deregisters as its process exits, and the run ends with
    /// it, wherever it ran: a host renamed since, a container gone) or has been found dead for
    /// ``deadFor`` at `now`; false while it runs or was found dead only lately; nil if no worker
    /// record matches (its record was deleted by hand).
    public func ended(among workers: [WorkerRecord], now: Date) -> Bool? {
        let candidates = workers.filter {
            if let worker { return $0.id == worker }
            return $0.hostname == host && $0.pid == pid && $0.startedAt <= since.addingTimeInterval(Self.clockMargin)
                && ($0.stoppedAt.map { $0 >= since.addingTimeInterval(-Self.clockMargin) } ?? true)
        }
        guard let worker = candidates.max(by: { $0.startedAt < $1.startedAt }) else { return nil }
        switch worker.state {
        case .running: return false
        case .stopped: return true
        case .dead: return worker.stoppedAt.map { now.timeIntervalSince($0) >= Self.deadFor } ?? false
        }
    }

    public var description: String { "process \(pid) on \(host)" + (worker.map { ", worker \($0)" } ?? "") }
}

extension StagedPipeline {
    public func succeeded(job: Job, dryRun: Bool) async throws {}
    public func inputs(of stage: String) -> [String] { Array(stages.prefix { $0 != stage }) }
    public func needsReview(before stage: String, job: Job) -> Bool { false }
    public func heldWorkEnded(job: Job) -> Bool? { nil }
    public func heldWorkHolder(job: Job) -> HeldWorkHolder? { nil }
}

/// What a stage gets from the worker besides its job.
public struct StageContext: Sendable {
    /// Run the stage but publish nothing.
    public var dryRun: Bool
    /// What this stage recorded in earlier attempts (``save(_:)``).
    public var notes: [String: String]
    /// The longest the worker lets one stage run (its `--stage-timeout`); nil outside a worker.
    /// A run of the job that has held its work for longer was stopped and never returned.
    public var stageTimeout: Duration?
    /// The worker running the stage (its id, the owner of the job's lease); nil outside a worker.
    /// A stage that holds something for a while (the job's work folder) names it, so that another
    /// process can ask the store whether that worker is gone.
    public var worker: String?
    private let saver: @Sendable ([String: String]) async throws -> Void

    /// - Parameter save: records notes durably (the worker writes them to `job_stages`, fenced by its lease).
    public init(dryRun: Bool, notes: [String: String] = [:], stageTimeout: Duration? = nil, worker: String? = nil,
                save: @escaping @Sendable ([String: String]) async throws -> Void) {
        self.dryRun = dryRun
        self.notes = notes
        self.stageTimeout = stageTimeout
        self.worker = worker
        self.saver = save
    }

    /// Records `notes` (merged over earlier ones) before returning, so that what comes next can rely
    /// on them surviving a crash: an upload saves its session URI before the first byte.
    public mutating func save(_ more: [String: String]) async throws {
        try await saver(more)
        notes.merge(more) { _, new in new }
    }
}

extension StagedPipeline {
    /// Video jobs, unless the pipeline says otherwise.
    public var kind: JobKind { .video }
    public var name: String { "media" }

    /// Runs a stage outside a worker, with notes kept nowhere (tools and tests).
    public func run(stage: String, job: Job, dryRun: Bool) async throws -> StageOutcome {
        try await run(stage: stage, job: job, context: StageContext(dryRun: dryRun, save: { _ in }))
    }
}

/// How a stage ended when it did not throw.
public enum StageOutcome: Sendable, Hashable {
    case done([Artifact])
    /// Nothing to do (e.g. publish under --dry-run).
    case skipped
}

