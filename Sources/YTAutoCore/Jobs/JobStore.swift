import Foundation

/// The persistent job queue. SQLite (`SQLiteJobStore`) is the embedded implementation;
/// any other store must pass the same conformance tests.
///
/// Fencing: every method that takes a ``Lease`` refuses with ``LeaseLost`` when the
/// lease's token is no longer the job's current one, and then changes nothing.
public protocol JobStore: Sendable {
    /// Adds a job. A job with the same unique key is never made twice; the existing one is returned.
    func enqueue(_ job: NewJob) async throws -> EnqueueResult

    /// Leases the next due queued job of `kind` (by priority, run_at, id), optionally only of
    /// the given channels, bumping its lease token and starting an attempt that records
    /// `pipeline` (what will run it). `nil` if none is due.
    func lease(worker: String, channels: [String]?, kind: JobKind, pipeline: String?, duration: Duration) async throws -> Lease?

    /// Extends a lease, and says whether a cancel was requested. Throws ``LeaseLost``.
    func heartbeat(_ lease: Lease, duration: Duration) async throws -> HeartbeatStatus

    /// Records a stage's state, artifacts and timings. Throws ``LeaseLost``.
    func checkpoint(_ lease: Lease, stage: String, state: StageState, artifacts: [Artifact], startedAt: Date, error: JobFailure?) async throws

    /// Marks the job succeeded. Throws ``LeaseLost``.
    func complete(_ lease: Lease) async throws -> Job

    /// Marks the job succeeded, then leases the next due job for `next` (nil: lease nothing), so
    /// that a worker's freed slot is filled at once. An engine that can does both in one
    /// transaction: the pages they share (the counts row, the last index leaves) are written
    /// once, which is most of a job's cost on SQLite. Should the lease fail, the completion still
    /// stands (``Completion/next`` is nil and the worker leases as usual). Throws ``LeaseLost``
    /// as ``complete(_:)`` does, and then leases nothing.
    func complete(_ lease: Lease, thenLease next: LeaseRequest?) async throws -> Completion

    /// Records a failed attempt. A retryable error with attempts left queues the job again
    /// after a backoff (or at the error's own retry time); otherwise the job fails.
    func fail(_ lease: Lease, error: JobFailure) async throws -> Job

    /// Gives the job back on graceful shutdown: queued again, now, without spending the attempt.
    /// `reason` is recorded on the attempt (`worker.shutdown` and why).
    func handBack(_ lease: Lease, reason: JobFailure) async throws -> Job

    /// Confirms a requested cancel: the job ends `cancelled`. Throws ``LeaseLost``.
    func markCancelled(_ lease: Lease) async throws -> Job

    /// Cancels a queued job at once, or asks the worker of a running job to stop.
    func cancel(jobID: Int64) async throws -> CancelResult

    /// Queues a failed or cancelled job again, giving it one more attempt if it had none left.
    func retry(jobID: Int64) async throws -> Job

    /// ``retry(jobID:)``, but only if the job has not changed since it was read with `updatedAt`
    /// (checked in the same write); nil, and nothing done, if it has (retried, cancelled, or run
    /// and failed again meanwhile). What a worker does on its own uses this: it never acts on a
    /// job as it was.
    func retry(jobID: Int64, ifUnchangedSince updatedAt: Date) async throws -> Job?

    /// Queues every failed job again (of one channel, if given). Returns their ids.
    func retryAllFailed(channel: String?) async throws -> [Int64]

    /// Failed jobs, newest first: of one channel if given, only those whose last error has the
    /// given code (`work.stuck`, `youtube.quota_exceeded`, …) if given. Each combination reads an index in
    /// order, so it costs the rows it returns, not the failed jobs it skips.
    func listFailed(channel: String?, code: String?, since: Date?, limit: Int) async throws -> [Job]

    /// Attempts, newest first: what ran, where, and how it ended.
    func history(channel: String?, limit: Int) async throws -> [AttemptRecord]

    func job(id: Int64) async throws -> Job?
    func stages(jobID: Int64) async throws -> [StageRecord]
    func attempts(jobID: Int64) async throws -> [AttemptRecord]

    /// Queue sizes by channel and state.
    func stats() async throws -> QueueStats

    /// Deletes finished jobs (with their stages and attempts) that finished before `cutoff`,
    /// `batchSize` at a time so writers are never blocked for long. Returns how many.
    func prune(finishedBefore cutoff: Date, batchSize: Int) async throws -> Int

    /// Frees the jobs of workers found dead and of leases that expired.
    func reclaim() async throws -> ReclaimReport
}

extension JobStore {
    /// Failed jobs of any error code, newest first.
    public func listFailed(channel: String?, since: Date?, limit: Int) async throws -> [Job] {
        try await listFailed(channel: channel, code: nil, since: since, limit: limit)
    }

    /// Completes, then leases in a second step (an engine without a combined statement).
    public func complete(_ lease: Lease, thenLease next: LeaseRequest?) async throws -> Completion {
        let job = try await complete(lease)
        guard let next else { return Completion(job: job, next: nil) }
        // The completion stands whatever the lease does: the worker leases as usual then. A lease
        // that failed without an answer may still have leased a job.
        do {
            let leased = try await self.lease(
                worker: next.worker, channels: next.channels, kind: next.kind, pipeline: next.pipeline, duration: next.duration)
            return Completion(job: job, next: leased)
        } catch {
            return Completion(job: job, next: nil, nextUnknown: !(error is LeaseLost))
        }
    }

    /// Leases the next due video job (see ``lease(worker:channels:kind:pipeline:duration:)``).
    public func lease(worker: String, channels: [String]?, duration: Duration) async throws -> Lease? {
        try await lease(worker: worker, channels: channels, kind: .video, pipeline: nil, duration: duration)
    }

    /// Hands the job back for a graceful shutdown of its worker.
    public func handBack(_ lease: Lease) async throws -> Job {
        try await handBack(lease, reason: JobFailure(
            code: "worker.shutdown", message: "worker \(lease.owner) shut down gracefully and handed the job back", isRetryable: true))
    }
}

/// How long to wait before the next attempt: exponential backoff with jitter, capped.
///
/// The delay after attempt `n` is drawn uniformly from `[d/2, d]` where
/// `d = min(cap, base · 2^(n-1))` ("equal jitter"): never shorter than half the nominal
/// delay, so retries do not stampede, and spread so that jobs failing together do not
/// return together. An error that names its own time (Retry-After, a quota reset) wins.
public struct RetryPolicy: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .seconds(15), cap: Duration = .seconds(3600)) {
        self.base = base
        self.cap = cap
    }

    /// The nominal (un-jittered) delay after `attempt` (1-based).
    public func nominalDelay(afterAttempt attempt: Int) -> Duration {
        let exponent = max(0, min(attempt - 1, 40))
        return .milliseconds(Int64(min(cap.seconds, base.seconds * pow(2, Double(exponent))) * 1000))
    }

    /// A jittered delay after `attempt` (1-based), in `[nominal/2, nominal]`.
    public func delay(afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let nominal = nominalDelay(afterAttempt: attempt)
        let ms = Int64((nominal.seconds * 1000).rounded())
        guard ms > 1 else { return nominal }
        return .milliseconds(Int64.random(in: (ms / 2)...ms, using: &generator))
    }

    /// The longest wait an error may ask for (Retry-After, a quota reset): a provider that
    /// answers `Retry-After: 99999999999` must not park a job for millennia. A YouTube quota
    /// resets within a day; two days leaves room for any honest reset time.
    public static let longestRequestedWait: TimeInterval = 2 * 86_400

    /// When a failed attempt should run again: at the error's own time (capped at
    /// ``longestRequestedWait``), else after a jittered backoff drawn from `generator`.
    public func nextRun(after failure: JobFailure, attempt: Int, now: Date, using generator: inout some RandomNumberGenerator) -> Date {
        if let at = failure.retryAt {
            guard at.timeIntervalSince1970.isFinite else { return now }
            return min(at, now.addingTimeInterval(Self.longestRequestedWait))
        }
        return now.addingTimeInterval(delay(afterAttempt: attempt, using: &generator).seconds)
    }

    /// When a failed attempt should run again, with the system's random numbers for the jitter.
    public func nextRun(after failure: JobFailure, attempt: Int, now: Date) -> Date {
        var generator = SystemRandomNumberGenerator()
        return nextRun(after: failure, attempt: attempt, now: now, using: &generator)
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    public var seconds: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}

/// Refusals of the store that are not about a lease.
public enum JobStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case notFound(Int64)
    case invalidState(jobID: Int64, state: JobState, action: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .notFound(let id): "job \(id) does not exist"
        case .invalidState(let id, let state, let action): "job \(id) is \(state == .review ? "waiting for review" : state.rawValue); cannot \(action)"
        case .invalidArgument(let why): why
        }
    }
}
