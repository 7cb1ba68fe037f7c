import Foundation

/// A job's state, stored as text in `jobs.state`.
///
/// ```
/// queued ──lease──▶ running ──▶ succeeded
///   ▲                 │  ├────▶ failed      (permanent error, or attempts used up)
///   └─backoff/handback┘  ├────▶ cancelled   (admin)
///   ▲                    ▼
///   └──approve──── review ──reject──▶ cancelled
/// ```
///
/// `review`: a job of a channel with `review: true` stopped before its publish stage until an
/// operator approves it (queued again; it publishes) or rejects it (cancelled, reason recorded).
/// No worker holds it meanwhile.
public enum JobState: String, Sendable, Codable, CaseIterable, Hashable {
    case queued, running, review, succeeded, failed, cancelled

    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// How one attempt ended, stored as text in `job_attempts.outcome`.
public enum AttemptOutcome: String, Sendable, Codable, CaseIterable, Hashable {
    case succeeded
    case failed
    /// Failed with a retryable error; the job is queued again after a backoff.
    case retrying
    /// Given back on graceful shutdown; the attempt is not counted.
    case handedBack = "handed_back"
    /// Its worker died (SIGKILL, crash, lost host) or its lease expired.
    case lost
    case cancelled
    /// Stopped before publishing to wait for an operator's review; the attempt is not counted.
    case review
}

/// A stage's state, stored as text in `job_stages.state`.
public enum StageState: String, Sendable, Codable, CaseIterable, Hashable {
    case running, succeeded, failed, skipped
}

/// What a job is for, and so which workers may lease it.
///
/// A diagnostic worker (`--synthetic-stage-ms`) makes no video: it leases only `synthetic` jobs
/// (`ytauto enqueue --synthetic`, the ones `ytauto-bench` makes), and a normal worker never
/// leases those, so a load test can never mark a real channel's job `succeeded` without a video.
public enum JobKind: String, Sendable, Codable, CaseIterable, Hashable {
    case video, synthetic
}

/// A job as stored in the `jobs` table.
public struct Job: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var channel: String
    public var topic: String?
    /// JSON text: `{"topic": …, "options": {…}}`.
    public var payload: String
    public var state: JobState
    public var priority: Int
    public var runAt: Date
    /// Attempts started so far (handed-back attempts are not counted).
    public var attempt: Int
    public var maxAttempts: Int
    public var leaseOwner: String?
    public var leaseToken: Int64
    public var leaseExpiresAt: Date?
    public var cancelRequested: Bool
    public var currentStage: String?
    public var uniqueKey: String?
    public var lastErrorCode: String?
    public var lastErrorMessage: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    public var kind: JobKind
    /// When the job was first due; `runAt` moves with every retry, this never does.
    public var scheduledAt: Date?

    public init(
        id: Int64, channel: String, topic: String?, payload: String, state: JobState, priority: Int,
        runAt: Date, attempt: Int, maxAttempts: Int, leaseOwner: String?, leaseToken: Int64,
        leaseExpiresAt: Date?, cancelRequested: Bool, currentStage: String?, uniqueKey: String?,
        lastErrorCode: String?, lastErrorMessage: String?, createdAt: Date, updatedAt: Date, finishedAt: Date?,
        kind: JobKind = .video, scheduledAt: Date? = nil
    ) {
        self.kind = kind
        self.scheduledAt = scheduledAt
        self.id = id
        self.channel = channel
        self.topic = topic
        self.payload = payload
        self.state = state
        self.priority = priority
        self.runAt = runAt
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.leaseOwner = leaseOwner
        self.leaseToken = leaseToken
        self.leaseExpiresAt = leaseExpiresAt
        self.cancelRequested = cancelRequested
        self.currentStage = currentStage
        self.uniqueKey = uniqueKey
        self.lastErrorCode = lastErrorCode
        self.lastErrorMessage = lastErrorMessage
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.finishedAt = finishedAt
    }
}

/// A request to add a job.
public struct NewJob: Sendable, Hashable {
    public var channel: String
    public var topic: String?
    public var options: [String: String]
    public var priority: Int
    /// When the job becomes due; `nil` means now.
    public var runAt: Date?
    public var maxAttempts: Int
    /// A job with the same key is never made twice: enqueue returns the existing one.
    public var uniqueKey: String?
    public var kind: JobKind

    public init(
        channel: String, topic: String? = nil, options: [String: String] = [:], priority: Int = 0,
        runAt: Date? = nil, maxAttempts: Int = 3, uniqueKey: String? = nil, kind: JobKind = .video
    ) {
        self.kind = kind
        self.channel = channel
        self.topic = topic
        self.options = options
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.uniqueKey = uniqueKey
    }
}

/// What `enqueue` did.
public struct EnqueueResult: Sendable, Hashable {
    public var job: Job
    /// `false` when a job with the same unique key already existed and was returned instead.
    public var inserted: Bool
    public init(job: Job, inserted: Bool) {
        self.job = job
        self.inserted = inserted
    }
}

/// A worker's hold on a running job. Every write about the job carries it; the store
/// refuses the write with ``LeaseLost`` once the lease was taken over.
public struct Lease: Sendable, Hashable {
    public var job: Job
    public var owner: String
    /// The fence: bumped by every lease of the job.
    public var token: Int64
    public var expiresAt: Date

    public init(job: Job, owner: String, token: Int64, expiresAt: Date) {
        self.job = job
        self.owner = owner
        self.token = token
        self.expiresAt = expiresAt
    }

    public var jobID: Int64 { job.id }
    public var attempt: Int { job.attempt }
}

/// What a worker asks to lease next: the arguments of ``JobStore/lease(worker:channels:kind:pipeline:duration:)``.
public struct LeaseRequest: Sendable, Hashable {
    public var worker: String
    public var channels: [String]?
    public var kind: JobKind
    public var pipeline: String?
    public var duration: Duration

    public init(worker: String, channels: [String]?, kind: JobKind = .video, pipeline: String? = nil, duration: Duration) {
        self.worker = worker
        self.channels = channels
        self.kind = kind
        self.pipeline = pipeline
        self.duration = duration
    }
}

/// A completed job, and the job its worker leased next in the same step, if one was due.
public struct Completion: Sendable, Hashable {
    public var job: Job
    public var next: Lease?
    /// The completion stands, but whether the next job was leased is unknown: that part's
    /// answer was lost (a connection dropped after the server committed). The worker may hold a
    /// lease it does not know of (``WorkerStore/leases(heldBy:)``, ``LeaseDoubt``).
    public var nextUnknown: Bool

    public init(job: Job, next: Lease?, nextUnknown: Bool = false) {
        self.job = job
        self.next = next
        self.nextUnknown = nextUnknown
    }
}

/// The answer to a heartbeat.
public enum HeartbeatStatus: Sendable, Hashable {
    /// The lease is held and now runs until the given time.
    case held(until: Date)
    /// The lease is held, but an operator asked to cancel the job: stop and call `markCancelled`.
    case cancelRequested(until: Date)
}

/// The worker no longer holds the lease it wrote with: the job was reclaimed, re-leased,
/// cancelled or finished. The write was refused and the row is unchanged.
public struct LeaseLost: Error, Sendable, Hashable, CustomStringConvertible {
    public var jobID: Int64
    public var token: Int64
    public var owner: String
    /// What the row says now.
    public var currentState: JobState?
    public var currentOwner: String?
    public var currentToken: Int64?

    public init(jobID: Int64, token: Int64, owner: String, currentState: JobState?, currentOwner: String?, currentToken: Int64?) {
        self.jobID = jobID
        self.token = token
        self.owner = owner
        self.currentState = currentState
        self.currentOwner = currentOwner
        self.currentToken = currentToken
    }

    public var description: String {
        let now: String
        if let s = currentState {
            now = "it is \(s.rawValue)" + (currentOwner.map { " under \($0)" } ?? "") + (currentToken.map { " with token \($0)" } ?? "")
        } else {
            now = "it no longer exists"
        }
        return "lease lost: worker \(owner) held job \(jobID) with token \(token), but \(now)"
    }
}

/// A file a stage produced, recorded so a retry can verify it instead of redoing the stage.
public struct Artifact: Sendable, Codable, Hashable {
    public var path: String
    public var bytes: Int64
    /// Lower-case hex SHA-256 of the file's content.
    public var sha256: String

    public init(path: String, bytes: Int64, sha256: String) {
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// A `job_stages` row.
public struct StageRecord: Sendable, Hashable {
    public var jobID: Int64
    public var stage: String
    public var state: StageState
    public var attempt: Int
    public var artifacts: [Artifact]
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMS: Int64?
    public var errorCode: String?
    public var errorMessage: String?
    /// What the stage recorded while it ran (an upload's session URI, a video id); kept across attempts.
    public var notes: [String: String]

    /// Recorded as done (succeeded, or skipped in a dry run): a retry keeps it while its files verify.
    public var isDone: Bool { state == .succeeded || state == .skipped }

    public init(
        jobID: Int64, stage: String, state: StageState, attempt: Int, artifacts: [Artifact], startedAt: Date,
        finishedAt: Date?, durationMS: Int64?, errorCode: String?, errorMessage: String?, notes: [String: String] = [:]
    ) {
        self.notes = notes
        self.jobID = jobID
        self.stage = stage
        self.state = state
        self.attempt = attempt
        self.artifacts = artifacts
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMS = durationMS
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }
}

/// A `job_stage_runs` row: one run of one stage in one attempt. `job_stages` keeps only each
/// stage's latest run (what a retry resumes from); these are all of them.
public struct StageRunRecord: Sendable, Hashable, Codable {
    /// The row's id: the order the runs began in, across jobs (`ytauto-admin copy` keeps it).
    public var id: Int64
    public var jobID: Int64
    public var attempt: Int
    public var leaseToken: Int64
    public var stage: String
    public var state: StageState
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMS: Int64?
    public var errorCode: String?
    public var errorMessage: String?

    public init(
        id: Int64, jobID: Int64, attempt: Int, leaseToken: Int64, stage: String, state: StageState, startedAt: Date,
        finishedAt: Date?, durationMS: Int64?, errorCode: String?, errorMessage: String?
    ) {
        self.id = id
        self.jobID = jobID
        self.attempt = attempt
        self.leaseToken = leaseToken
        self.stage = stage
        self.state = state
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMS = durationMS
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }
}

/// A `job_attempts` row: one run of a job by one worker.
public struct AttemptRecord: Sendable, Hashable {
    public var id: Int64
    public var jobID: Int64
    public var attempt: Int
    public var leaseToken: Int64
    public var channel: String
    public var workerID: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// `nil` while the attempt runs.
    public var outcome: AttemptOutcome?
    public var stage: String?
    public var errorCode: String?
    public var errorMessage: String?
    /// Which pipeline ran it: `media`, `media (dry run)`, `synthetic 250 ms`.
    public var pipeline: String?
    /// The lease's length, and the last time the worker renewed it.
    public var leaseSeconds: Double?
    public var heartbeatAt: Date?
    /// When the job was due as this attempt leased it (``dueAt(runAt:createdAt:)``): the attempt's
    /// lease wait is `startedAt - dueAt`. Nil for attempts recorded before schema version 8.
    public var dueAt: Date?

    /// When a job became due for a worker: its `run_at`, or when it was made if that was later
    /// (a slot's job made late by a scheduler that was down, `enqueue --at` a past time). Before
    /// 2026-12-05 attempts recorded `run_at` alone, so a late job's scheduler delay counted as
    /// lease wait.
    public static func dueAt(runAt: Date, createdAt: Date) -> Date { max(runAt, createdAt) }

    public init(
        id: Int64, jobID: Int64, attempt: Int, leaseToken: Int64, channel: String, workerID: String,
        startedAt: Date, finishedAt: Date?, outcome: AttemptOutcome?, stage: String?,
        errorCode: String?, errorMessage: String?, pipeline: String? = nil, leaseSeconds: Double? = nil, heartbeatAt: Date? = nil,
        dueAt: Date? = nil
    ) {
        self.dueAt = dueAt
        self.pipeline = pipeline
        self.leaseSeconds = leaseSeconds
        self.heartbeatAt = heartbeatAt
        self.id = id
        self.jobID = jobID
        self.attempt = attempt
        self.leaseToken = leaseToken
        self.channel = channel
        self.workerID = workerID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.stage = stage
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }
}

/// What `cancel` did.
public enum CancelResult: Sendable, Hashable {
    /// The job was queued and is now cancelled.
    case cancelled
    /// The job is running; its worker stops at the next heartbeat or stage boundary.
    case requested
    /// The job had already finished in this state; nothing changed.
    case alreadyFinished(JobState)
}

extension CancelResult {
    /// What the audit log records: a job already finished is a refusal, said as every refusal is.
    public var auditDetail: String {
        if case .alreadyFinished = self { return "refused: \(self)" }
        return "\(self)"
    }
}

extension CancelResult: CustomStringConvertible {
    /// What came of it, for the operator and the audit log.
    public var description: String {
        switch self {
        case .cancelled: "cancelled"
        case .requested: "cancel requested: its worker stops it at the next heartbeat or stage boundary"
        case .alreadyFinished(let state): "already finished (\(state.rawValue)); nothing to cancel"
        }
    }
}

/// Queue sizes for `status`.
public struct QueueStats: Sendable, Hashable {
    /// Jobs by channel, then by state.
    public var counts: [String: [JobState: Int]]
    /// The `run_at` of the oldest queued job that is due.
    public var oldestDueQueuedAt: Date?

    public init(counts: [String: [JobState: Int]], oldestDueQueuedAt: Date?) {
        self.counts = counts
        self.oldestDueQueuedAt = oldestDueQueuedAt
    }

    /// Jobs by state over all channels.
    public var byState: [JobState: Int] {
        var out: [JobState: Int] = [:]
        for states in counts.values { for (s, n) in states { out[s, default: 0] += n } }
        return out
    }
}

/// A `workers` row.
public struct WorkerRecord: Sendable, Hashable {
    public enum State: String, Sendable, Hashable { case running, stopped, dead }
    public var id: String
    public var pid: Int32
    public var hostname: String
    public var lockPath: String
    public var state: State
    public var startedAt: Date
    public var lastSeenAt: Date
    public var stoppedAt: Date?

    public init(id: String, pid: Int32, hostname: String, lockPath: String, state: State, startedAt: Date, lastSeenAt: Date, stoppedAt: Date?) {
        self.id = id
        self.pid = pid
        self.hostname = hostname
        self.lockPath = lockPath
        self.state = state
        self.startedAt = startedAt
        self.lastSeenAt = lastSeenAt
        self.stoppedAt = stoppedAt
    }
}

/// What a sweep for dead workers and expired leases did.
public struct ReclaimReport: Sendable, Hashable {
    public var deadWorkers: [String] = []
    /// Jobs queued again.
    public var requeued: [Int64] = []
    /// Jobs whose lost attempt was their last, now failed with `worker.lost`.
    public var failed: [Int64] = []
    public init() {}
    public var isEmpty: Bool { deadWorkers.isEmpty && requeued.isEmpty && failed.isEmpty }

    /// What was freed, for an operator: "dead workers w-1; queued again: jobs 7, 9; failed (no attempts left): jobs 3".
    public var summary: String {
        var parts: [String] = []
        if !deadWorkers.isEmpty { parts.append("dead workers \(deadWorkers.joined(separator: ", "))") }
        if !requeued.isEmpty { parts.append("queued again: jobs \(requeued.map(String.init).joined(separator: ", "))") }
        if !failed.isEmpty { parts.append("failed (no attempts left): jobs \(failed.map(String.init).joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }
}
