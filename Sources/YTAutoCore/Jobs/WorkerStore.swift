import Foundation

/// A worker's registration with the store, held for the worker's life.
public protocol WorkerRegistrationRecord: Sendable {
    /// The worker's id: the owner of its leases.
    var id: String { get }
}

/// What a worker process needs of the store beyond the queue itself (``JobStore``): to register
/// for its life and leave, to keep its row fresh, to keep a stage's notes, to lease one given
/// job (`run-once`), to learn of new work without polling, and where its bookkeeping runs.
///
/// The worker (``QueueWorker`` in YTAutoWorker) depends on this contract only; an engine
/// supplies the rest: how a registration proves the worker is alive (a lock file on SQLite),
/// and how a sleeping worker is woken (a futex word shared through a file on SQLite).
public protocol WorkerStore: JobStore {
    associatedtype Registration: WorkerRegistrationRecord

    /// Registers this process as a worker. Its jobs are freed by ``reclaim()`` once the engine
    /// can tell it died.
    func registerWorker() async throws -> Registration

    /// Marks the worker stopped; jobs it still holds are released as lost.
    func deregisterWorker(_ registration: Registration) async throws

    /// Records that the worker was seen now (for people: liveness is the registration's).
    func touchWorker(_ id: String) async throws

    /// Makes sure the registration still proves the worker alive, and mends it where it can (on
    /// SQLite, a lock file removed from under the worker is made again). Returns a sentence for
    /// the log when it mended something, else nil. The worker's sweep calls it before it looks
    /// for dead workers, so a worker never finds itself dead.
    func keepRegistration(_ registration: Registration) async throws -> String?

    /// Every registered worker, newest first.
    func workers() async throws -> [WorkerRecord]

    /// The worker of that id, or nil if none has it (read by its key, not the whole registry).
    func worker(id: String) async throws -> WorkerRecord?

    /// Merges `notes` into the stage's notes (what a stage wants to find again on a retry, such as
    /// an upload session). Throws ``LeaseLost``.
    func saveStageNotes(_ lease: Lease, stage: String, notes: [String: String]) async throws

    /// Marks `stages` of the lease's job not done, in one fenced write: a stage they read was
    /// made again with other files (``StagedPipeline/inputs(of:)``), so their recorded files no
    /// longer follow from it. Each recorded row becomes `failed` with the code
    /// `stage.input_changed` and a message naming `because`; its notes stay (an upload that
    /// began is found again, not made twice). Stages without a row are left alone. Called before
    /// the changed stage is recorded done, so a worker that dies in between leaves them to be
    /// made again. Throws ``LeaseLost``.
    func markStagesStale(_ lease: Lease, stages: [String], because: String) async throws

    /// Stops a job before `stage` for an operator's review, unless one approved it already
    /// (``ReviewHold/approved``: the worker goes on). Otherwise, in one fenced write: the job
    /// moves to state `review` with no lease and no worker, the attempt ends `review` (not
    /// counted), and the review is recorded undecided. A job with a cancel request ends
    /// `cancelled` instead, as a hand-back does. Throws ``LeaseLost``.
    ///
    /// `remade`: this run made again a stage that comes before `stage` with other files than it
    /// had recorded (its files were gone, as on another host without a shared `work_dir`, and
    /// came out different): what would be published is not what was approved, so an approval
    /// given before does not count and the job is held again.
    func holdForReview(_ lease: Lease, stage: String, remade: Bool) async throws -> ReviewHold

    /// Leases the next due job of `kind`, or only the job `only` if it is queued, due or not: a
    /// job asked for by its id runs now, and is due from then (`run_at` and `scheduled_at` move
    /// up to now). `run-once` enqueues its job a minute ahead, so no worker takes it first, and
    /// a `run-once` that dies before it leases leaves it to the workers a minute later.
    func lease(worker: String, channels: [String]?, kind: JobKind, pipeline: String?, duration: Duration, only jobID: Int64?) async throws -> Lease?

    /// The running jobs whose lease `worker` holds now, as leases. A worker asks after a store
    /// call that may have leased a job failed without an answer (a PostgreSQL connection lost
    /// after the server committed): a job it holds but does not run is one whose answer it lost.
    func leases(heldBy worker: String) async throws -> [Lease]

    /// A number that changes whenever another connection committed (cheap; no lock).
    func dataVersion() async throws -> Int64

    /// The earliest `run_at` of a queued job of `kind` (of `channels`, if given), or nil.
    func nextRunAt(channels: [String]?, kind: JobKind) async throws -> Date?

    /// The work signal's sequence now: read it before looking for work, then pass it to
    /// ``waitForWork(seen:timeout:waiter:)``.
    var workSequence: UInt64 { get }

    /// Tells idle workers, in every process, that a job may have become leasable.
    func signalWork()

    /// Waits until ``signalWork()`` is called anywhere after `seen` was read, or `timeout`
    /// passes. Waits of one `waiter` (a worker's id) are served one at a time, off Swift's
    /// cooperative threads.
    func waitForWork(seen: UInt64, timeout: Duration, waiter: String) async

    /// Where a worker's bookkeeping (leases, checkpoints, heartbeats, sweeps) should run.
    var bookkeepingExecutor: any TaskExecutor { get }

    /// How long an acknowledged heartbeat proves a lease at most, besides the lease's own length:
    /// the soonest other processes may find this worker dead once it can no longer reach the
    /// database (less a margin). Nil when a worker cannot be cut off from the database while it
    /// lives (SQLite: one host, one file). A worker that cannot renew its proof within this stops
    /// its jobs' work, so no job runs on two hosts at once.
    var leaseProofBound: Duration? { get }
}

/// What the scheduler needs of the store: to decide a channel's slots and free dead workers' jobs.
public protocol SchedulerStore: Sendable {
    /// Decides every slot of `channel` from where the last scheduler stopped looking up to `now`
    /// (``SchedulingRules``); a slot becomes at most one job however many schedulers run.
    func schedule(_ channel: ChannelConfig, now: Date?) async throws -> [SlotDecision]

    /// ``JobStore/reclaim()``, writing only when there is something to free.
    func reclaimIfNeeded() async throws -> ReclaimReport
}

extension WorkerStore {
    /// ``holdForReview(_:stage:remade:)`` for a run that made nothing again.
    public func holdForReview(_ lease: Lease, stage: String) async throws -> ReviewHold {
        try await holdForReview(lease, stage: stage, remade: false)
    }
}
