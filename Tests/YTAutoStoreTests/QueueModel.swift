import Foundation
import YTAutoCore

/// The job life cycle as the documents state it (docs/operations.md "How the store treats jobs",
/// DESIGN.md "Jobs: states and stages", the ``JobStore`` contract), in memory and in whole
/// milliseconds. The model-based test runs every step against it and against a real store and
/// compares what each says; nothing here reads the store's code.
///
/// Ids are the store's: the model takes the id a store gives a new job (checking only that it is
/// larger than every id alive, which lease order by id relies on), so it fits any engine.
struct QueueModel {
    /// A job as the rules say it must be.
    struct Job: Hashable {
        var id: Int64
        var channel: String
        var kind: JobKind
        var priority: Int
        var runAt: Int64
        var scheduledAt: Int64
        var state: JobState = .queued
        var attempt = 0
        var maxAttempts: Int
        var leaseOwner: String?
        var leaseToken: Int64 = 0
        var leaseExpiresAt: Int64?
        var cancelRequested = false
        var currentStage: String?
        var uniqueKey: String?
        var lastErrorCode: String?
        var finishedAt: Int64?
        /// The latest state of each stage (`job_stages`).
        var stages: [String: StageState] = [:]
        /// Every attempt in order: how it ended (`nil` while it runs) and its error code.
        var attempts: [Attempt] = []
        /// Its review (a channel with `review: true`): nil if it never stopped for one.
        var review: ReviewRecord.Decision?? = nil
    }

    struct Attempt: Hashable, CustomStringConvertible {
        var outcome: AttemptOutcome?
        var errorCode: String?
        var description: String { "\(outcome?.rawValue ?? "running")\(errorCode.map { "(\($0))" } ?? "")" }
    }

    /// A lease the model handed out (stale ones stay here: their writes must be refused).
    struct Lease: Hashable {
        var jobID: Int64
        var owner: String
        var token: Int64
    }

    /// What freeing a running job did to it (``ReclaimReport`` lists the first two).
    enum Released { case requeued, failed, cancelled }

    var now: Int64
    var policy: RetryPolicy
    var jobs: [Int64: Job] = [:]
    /// Registered workers: their row's state, and whether their lock is still held.
    var workers: [String: (state: WorkerRecord.State, alive: Bool)] = [:]

    init(now: Int64, policy: RetryPolicy) {
        self.now = now
        self.policy = policy
    }

    static func ms(_ d: Duration) -> Int64 { Int64((d.seconds * 1000).rounded()) }

    // MARK: - Enqueue and lease

    /// The job a unique key already names, if any: enqueue returns it instead of a new one.
    /// A pruned job's key is free again.
    func existing(key: String?) -> Int64? {
        guard let key else { return nil }
        return jobs.values.first { $0.uniqueKey == key }?.id
    }

    mutating func insert(id: Int64, _ new: NewJob) {
        let runAt = new.runAt.map(QueueModel.ms(date:)) ?? now
        jobs[id] = Job(id: id, channel: new.channel, kind: new.kind, priority: new.priority, runAt: runAt, scheduledAt: runAt,
                       maxAttempts: new.maxAttempts, uniqueKey: new.uniqueKey)
    }

    static func ms(date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// The next due queued job of `kind` (of `channels`, if given), by priority, then run_at, then id.
    func next(channels: [String]?, kind: JobKind) -> Int64? {
        if let channels, channels.isEmpty { return nil }
        return jobs.values
            .filter { $0.state == .queued && $0.kind == kind && $0.runAt <= now && (channels?.contains($0.channel) ?? true) }
            .min { ($0.priority, $0.runAt, $0.id) < ($1.priority, $1.runAt, $1.id) }?.id
    }

    /// Leases `id`: running, one more attempt, a new token, an attempt row.
    mutating func lease(_ id: Int64, owner: String, durationMS: Int64) -> Lease {
        var job = jobs[id]!
        job.state = .running
        job.attempt += 1
        job.leaseOwner = owner
        job.leaseToken += 1
        job.leaseExpiresAt = now + durationMS
        job.attempts.append(Attempt(outcome: nil, errorCode: nil))
        jobs[id] = job
        return Lease(jobID: id, owner: owner, token: job.leaseToken)
    }

    /// The fence: a write with `lease` is accepted only while the job runs under that token and owner.
    func holds(_ lease: Lease) -> Bool {
        guard let job = jobs[lease.jobID] else { return false }
        return job.state == .running && job.leaseToken == lease.token && job.leaseOwner == lease.owner
    }

    // MARK: - Writes under a lease (the caller checked ``holds(_:)``)

    /// Heartbeat: the lease runs `durationMS` from now; says whether a cancel was requested.
    mutating func heartbeat(_ lease: Lease, durationMS: Int64) -> Bool {
        jobs[lease.jobID]!.leaseExpiresAt = now + durationMS
        return jobs[lease.jobID]!.cancelRequested
    }

    mutating func checkpoint(_ lease: Lease, stage: String, state: StageState) {
        jobs[lease.jobID]!.stages[stage] = state
        jobs[lease.jobID]!.currentStage = stage
    }

    /// Ends the running attempt; any other outcome than success closes the stages it left running.
    mutating func endAttempt(_ id: Int64, _ outcome: AttemptOutcome, code: String?) {
        var job = jobs[id]!
        job.attempts[job.attempts.count - 1] = Attempt(outcome: outcome, errorCode: code)
        if outcome != .succeeded {
            for (stage, state) in job.stages where state == .running { job.stages[stage] = .failed }
        }
        jobs[id] = job
    }

    /// A finished job has no lease; a job that succeeds has no last error, any other keeps the newest one.
    mutating func finish(_ id: Int64, _ state: JobState, code: String?) {
        var job = jobs[id]!
        job.state = state
        job.leaseOwner = nil
        job.leaseExpiresAt = nil
        job.finishedAt = now
        job.lastErrorCode = state == .succeeded ? nil : (code ?? job.lastErrorCode)
        jobs[id] = job
    }

    mutating func requeue(_ id: Int64, runAt: Int64, refund: Bool, code: String?) {
        var job = jobs[id]!
        job.state = .queued
        job.leaseOwner = nil
        job.leaseExpiresAt = nil
        job.runAt = runAt
        if refund { job.attempt -= 1 }
        job.lastErrorCode = code ?? job.lastErrorCode
        jobs[id] = job
    }

    mutating func complete(_ lease: Lease) {
        endAttempt(lease.jobID, .succeeded, code: nil)
        finish(lease.jobID, .succeeded, code: nil)
    }

    /// How a failed attempt ends, before the backoff's jitter is known.
    enum FailPlan: Equatable {
        case cancelled
        case failed
        /// Queued again at exactly this time (the error named it).
        case requeueAt(Int64, refund: Bool)
        /// Queued again after a jittered backoff within these bounds (inclusive, ms from now).
        case backoff(ClosedRange<Int64>)

        var event: String {
            switch self {
            case .cancelled: "cancelled"
            case .failed: "failed"
            case .requeueAt(_, let refund): refund ? "parked, no attempt spent" : "queued at the error's time"
            case .backoff(let b): b.upperBound == 15_000 ? "backoff at the cap" : "backoff"
            }
        }
    }

    /// A cancel request wins; a retryable error with attempts left (or one that spends none) queues
    /// the job again, at the error's own time (at most two days ahead) or after the backoff;
    /// otherwise the job fails.
    func plan(_ lease: Lease, _ failure: JobFailure) -> FailPlan {
        let job = jobs[lease.jobID]!
        if job.cancelRequested { return .cancelled }
        guard failure.isRetryable, job.attempt < job.maxAttempts || !failure.spendsAttempt else { return .failed }
        if let at = failure.retryAt {
            let capped = min(QueueModel.ms(date: at), now + Int64(RetryPolicy.longestRequestedWait * 1000))
            return .requeueAt(capped, refund: !failure.spendsAttempt)
        }
        // d = min(cap, base · 2^(attempt-1)), drawn from [d/2, d].
        let nominal = min(QueueModel.ms(policy.cap), QueueModel.ms(policy.base) << Int64(min(job.attempt - 1, 40)))
        return .backoff((nominal / 2)...nominal)
    }

    mutating func fail(_ lease: Lease, _ failure: JobFailure, plan: FailPlan, runAt: Int64?) {
        switch plan {
        case .cancelled:
            endAttempt(lease.jobID, .cancelled, code: failure.code)
            finish(lease.jobID, .cancelled, code: failure.code)
        case .failed:
            endAttempt(lease.jobID, .failed, code: failure.code)
            finish(lease.jobID, .failed, code: failure.code)
        case .requeueAt(let at, let refund):
            endAttempt(lease.jobID, .retrying, code: failure.code)
            requeue(lease.jobID, runAt: at, refund: refund, code: failure.code)
        case .backoff:
            endAttempt(lease.jobID, .retrying, code: failure.code)
            requeue(lease.jobID, runAt: runAt!, refund: false, code: failure.code)
        }
    }

    /// Graceful hand-back: queued again now, the attempt given back, the job's last error untouched;
    /// with a cancel request the job ends cancelled instead.
    mutating func handBack(_ lease: Lease) {
        if jobs[lease.jobID]!.cancelRequested {
            endAttempt(lease.jobID, .cancelled, code: nil)
            finish(lease.jobID, .cancelled, code: nil)
        } else {
            endAttempt(lease.jobID, .handedBack, code: "worker.shutdown")
            requeue(lease.jobID, runAt: now, refund: true, code: nil)
        }
    }

    mutating func markCancelled(_ lease: Lease) {
        endAttempt(lease.jobID, .cancelled, code: nil)
        finish(lease.jobID, .cancelled, code: nil)
    }

    /// Review before publish (the caller checked ``holds(_:)``): an approved job goes on; any
    /// other stops in `review`, no lease, the attempt ended `review` and given back, undecided
    /// (or ends cancelled when a cancel was requested).
    mutating func holdForReview(_ lease: Lease) -> Bool {
        if jobs[lease.jobID]!.review == .some(.approved) { return false }
        if jobs[lease.jobID]!.cancelRequested {
            endAttempt(lease.jobID, .cancelled, code: nil)
            finish(lease.jobID, .cancelled, code: nil)
            return true
        }
        endAttempt(lease.jobID, .review, code: ReviewRules.heldCode)
        var job = jobs[lease.jobID]!
        job.state = .review
        job.leaseOwner = nil
        job.leaseExpiresAt = nil
        job.attempt -= 1
        job.review = .some(nil)
        jobs[lease.jobID] = job
        return true
    }

    /// Only a job waiting for review is approved (queued again as a retry queues it) or rejected
    /// (cancelled with `review.rejected`).
    func canDecide(_ id: Int64) -> Bool { jobs[id]?.state == .review }

    mutating func approve(_ id: Int64) {
        retry(id)
        jobs[id]!.review = .some(.approved)
    }

    mutating func reject(_ id: Int64) {
        jobs[id]!.review = .some(.rejected)
        finish(id, .cancelled, code: ReviewRules.rejectedCode)
    }

    // MARK: - Freeing running jobs

    /// A running job whose worker died, stopped or let its lease expire: the attempt is `lost` and
    /// counts; the job keeps its place in the queue (`run_at` no later than now), or fails if that
    /// was its last attempt, or ends cancelled if a cancel was requested.
    mutating func release(_ id: Int64, code: String) -> Released {
        let job = jobs[id]!
        if job.cancelRequested {
            endAttempt(id, .cancelled, code: code)
            finish(id, .cancelled, code: nil)
            return .cancelled
        }
        endAttempt(id, .lost, code: code)
        if job.attempt >= job.maxAttempts {
            finish(id, .failed, code: code)
            return .failed
        }
        requeue(id, runAt: min(job.runAt, now), refund: false, code: code)
        return .requeued
    }

    mutating func releaseJobs(of worker: String, code: String, into report: inout ReclaimReport) {
        for id in jobs.keys.sorted() where jobs[id]!.state == .running && jobs[id]!.leaseOwner == worker {
            switch release(id, code: code) {
            case .requeued: report.requeued.append(id)
            case .failed: report.failed.append(id)
            case .cancelled: break
            }
        }
    }

    /// The sweep: workers registered as running whose lock is gone are marked dead and their jobs
    /// freed (`worker.lost`); then every lease that expired before now (`lease.expired`).
    mutating func reclaim() -> ReclaimReport {
        var report = ReclaimReport()
        for id in workers.keys.sorted() where workers[id]!.state == .running && !workers[id]!.alive {
            workers[id]!.state = .dead
            report.deadWorkers.append(id)
            releaseJobs(of: id, code: "worker.lost", into: &report)
        }
        for id in jobs.keys.sorted() {
            guard let job = jobs[id], job.state == .running, let expires = job.leaseExpiresAt, expires < now else { continue }
            switch release(id, code: "lease.expired") {
            case .requeued: report.requeued.append(id)
            case .failed: report.failed.append(id)
            case .cancelled: break
            }
        }
        return report
    }

    /// A graceful deregistration: the worker is stopped and the jobs it still holds are freed (`worker.stopped`).
    mutating func stop(worker: String) {
        workers[worker] = (.stopped, false)
        var ignored = ReclaimReport()
        releaseJobs(of: worker, code: "worker.stopped", into: &ignored)
    }

    // MARK: - Admin

    /// Cancel: a queued job ends at once, a running one gets a request, a finished one is left alone.
    mutating func cancel(_ id: Int64) -> CancelResult? {
        guard let job = jobs[id] else { return nil }
        switch job.state {
        case .queued, .review:
            finish(id, .cancelled, code: nil)
            return .cancelled
        case .running:
            jobs[id]!.cancelRequested = true
            return .requested
        case .succeeded, .failed, .cancelled:
            return .alreadyFinished(job.state)
        }
    }

    func canRetry(_ id: Int64) -> Bool { jobs[id].map { $0.state == .failed || $0.state == .cancelled } ?? false }

    /// Admin retry: queued again, due now, no longer finished or cancel-requested, with one more
    /// attempt if it had none left; stages stay.
    mutating func retry(_ id: Int64) {
        var job = jobs[id]!
        job.state = .queued
        job.runAt = now
        job.finishedAt = nil
        job.cancelRequested = false
        job.maxAttempts = max(job.maxAttempts, job.attempt + 1)
        jobs[id] = job
    }

    /// Retries every failed job (of `channel`); returns their ids in order.
    mutating func retryAllFailed(channel: String?) -> [Int64] {
        let ids = jobs.values.filter { $0.state == .failed && (channel == nil || $0.channel == channel) }.map(\.id).sorted()
        for id in ids { retry(id) }
        return ids
    }

    /// Prune: finished jobs that finished before `cutoff` go, with everything of theirs.
    mutating func prune(before cutoff: Int64) -> [Int64] {
        let ids = jobs.values.filter { $0.finishedAt.map { $0 < cutoff } ?? false }.map(\.id).sorted()
        for id in ids { jobs[id] = nil }
        return ids
    }

    // MARK: - Reads

    /// Jobs by channel and state (only counts above zero).
    var counts: [String: [JobState: Int]] {
        var out: [String: [JobState: Int]] = [:]
        for job in jobs.values { out[job.channel, default: [:]][job.state, default: 0] += 1 }
        return out
    }

    /// The run_at of the oldest queued job that is due, of any kind.
    var oldestDue: Int64? { jobs.values.filter { $0.state == .queued && $0.runAt <= now }.map(\.runAt).min() }
}
