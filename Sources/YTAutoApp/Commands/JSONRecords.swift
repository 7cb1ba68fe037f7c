import Foundation
import YTAutoCore

// The records the commands print with `--json`, one type per shape, encoded by ``Output/json(_:)``.
// Keys are snake_case and times are ``Timestamp`` strings; an absent value is left out, not null.

/// A job: `list-failed`, and the start of `show`, `enqueue` and each of `status`'s running jobs.
struct JobJSON: Encodable {
    var id: Int64
    var channel: String
    var topic: String?
    var kind: String
    var state: String
    var priority: Int
    var runAt: String
    var scheduledAt: String?
    var attempt: Int
    var maxAttempts: Int
    var stage: String?
    var leaseOwner: String?
    var uniqueKey: String?
    var cancelRequested: Bool
    var errorCode: String?
    var errorMessage: String?
    var createdAt: String
    var updatedAt: String
    var finishedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, channel, topic, kind, state, priority, attempt, stage
        case runAt = "run_at", scheduledAt = "scheduled_at", maxAttempts = "max_attempts", leaseOwner = "lease_owner"
        case uniqueKey = "unique_key", cancelRequested = "cancel_requested", errorCode = "error_code"
        case errorMessage = "error_message", createdAt = "created_at", updatedAt = "updated_at", finishedAt = "finished_at"
    }

    init(_ j: Job) {
        id = j.id
        channel = j.channel
        topic = j.topic
        kind = j.kind.rawValue
        state = j.state.rawValue
        priority = j.priority
        runAt = Timestamp.string(j.runAt)
        scheduledAt = j.scheduledAt.map(Timestamp.string)
        attempt = j.attempt
        maxAttempts = j.maxAttempts
        stage = j.currentStage
        leaseOwner = j.leaseOwner
        uniqueKey = j.uniqueKey
        cancelRequested = j.cancelRequested
        errorCode = j.lastErrorCode
        errorMessage = j.lastErrorMessage
        createdAt = Timestamp.string(j.createdAt)
        updatedAt = Timestamp.string(j.updatedAt)
        finishedAt = j.finishedAt.map(Timestamp.string)
    }
}

/// A job's fields and then `more`'s, in one object (`show`, `enqueue`, `status`'s running jobs).
struct JobWith<More: Encodable>: Encodable {
    var job: JobJSON
    var more: More

    func encode(to encoder: any Encoder) throws {
        try job.encode(to: encoder)
        try more.encode(to: encoder)
    }
}

/// A job's review (`ytauto-admin review`, the console's /api/review): since when it waits, the
/// video to look at, and any decision.
struct ReviewJSON: Encodable {
    var requestedAt: String?
    var video: String?
    var decision: String?
    var decidedAt: String?
    var decidedBy: String?
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case video, decision, reason
        case requestedAt = "review_requested_at", decidedAt = "review_decided_at", decidedBy = "review_decided_by"
    }

    /// The jobs waiting for review, each with its review and the composed video to watch
    /// (`ytauto-admin review --json`, `/api/review`).
    static func waiting(_ store: any OperatorStore, limit: Int) async throws -> [JobWith<ReviewJSON>] {
        var out: [JobWith<ReviewJSON>] = []
        for job in try await store.waitingForReview(limit: limit) {
            let video = try await store.stages(jobID: job.id).first { $0.stage == Stage.compose.rawValue }?.artifacts.first?.path
            out.append(JobWith(job: JobJSON(job), more: ReviewJSON(try await store.review(jobID: job.id), video: video)))
        }
        return out
    }

    init(_ r: ReviewRecord?, video: String?) {
        requestedAt = r.map { Timestamp.string($0.requestedAt) }
        self.video = video
        decision = r?.decision?.rawValue
        decidedAt = r?.decidedAt.map(Timestamp.string)
        decidedBy = r?.decidedBy
        reason = r?.reason
    }
}

/// An attempt: `history`, and `show`'s attempts.
struct AttemptJSON: Encodable {
    var jobID: Int64
    var attempt: Int
    var channel: String
    var worker: String
    var pipeline: String?
    var stage: String?
    var outcome: String?
    var leaseSeconds: Double?
    var startedAt: String
    var heartbeatAt: String?
    /// When the job was due as this attempt leased it.
    var dueAt: String?
    var finishedAt: String?
    var durationMS: Int?
    var errorCode: String?
    var errorMessage: String?

    enum CodingKeys: String, CodingKey {
        case attempt, channel, worker, pipeline, stage, outcome
        case jobID = "job_id", leaseSeconds = "lease_seconds", startedAt = "started_at", heartbeatAt = "heartbeat_at", dueAt = "due_at"
        case finishedAt = "finished_at", durationMS = "duration_ms", errorCode = "error_code", errorMessage = "error_message"
    }

    init(_ a: AttemptRecord) {
        jobID = a.jobID
        attempt = a.attempt
        channel = a.channel
        worker = a.workerID
        pipeline = a.pipeline
        stage = a.stage
        outcome = a.outcome?.rawValue
        leaseSeconds = a.leaseSeconds
        startedAt = Timestamp.string(a.startedAt)
        heartbeatAt = a.heartbeatAt.map(Timestamp.string)
        dueAt = a.dueAt.map(Timestamp.string)
        finishedAt = a.finishedAt.map(Timestamp.string)
        durationMS = a.finishedAt.map { Int(($0.timeIntervalSince(a.startedAt) * 1000).rounded()) }
        errorCode = a.errorCode
        errorMessage = a.errorMessage
    }
}

/// What `show --json` adds to the job: its stages, attempts and every run of every stage.
struct JobHistoryJSON: Encodable {
    /// A stage's latest state, with its artifacts (always) and notes (when it has any), or one run
    /// of a stage in one attempt, with its lease token.
    struct StageJSON: Encodable {
        var stage: String
        var state: String
        var attempt: Int
        var leaseToken: Int64?
        var artifacts: [Artifact]?
        var notes: [String: String]?
        var startedAt: String
        var finishedAt: String?
        var durationMS: Int64?
        var errorCode: String?
        var errorMessage: String?

        enum CodingKeys: String, CodingKey {
            case stage, state, attempt, artifacts, notes
            case leaseToken = "lease_token", startedAt = "started_at", finishedAt = "finished_at", durationMS = "duration_ms"
            case errorCode = "error_code", errorMessage = "error_message"
        }

        init(_ s: StageRecord) {
            self.init(stage: s.stage, state: s.state, attempt: s.attempt, startedAt: s.startedAt, finishedAt: s.finishedAt,
                      durationMS: s.durationMS, errorCode: s.errorCode, errorMessage: s.errorMessage)
            artifacts = s.artifacts
            notes = s.notes.isEmpty ? nil : s.notes
        }

        init(_ r: StageRunRecord) {
            self.init(stage: r.stage, state: r.state, attempt: r.attempt, startedAt: r.startedAt, finishedAt: r.finishedAt,
                      durationMS: r.durationMS, errorCode: r.errorCode, errorMessage: r.errorMessage)
            leaseToken = r.leaseToken
        }

        private init(
            stage: String, state: StageState, attempt: Int, startedAt: Date, finishedAt: Date?, durationMS: Int64?,
            errorCode: String?, errorMessage: String?
        ) {
            self.stage = stage
            self.state = state.rawValue
            self.attempt = attempt
            self.startedAt = Timestamp.string(startedAt)
            self.finishedAt = finishedAt.map(Timestamp.string)
            self.durationMS = durationMS
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }

    var stages: [StageJSON]
    var attempts: [AttemptJSON]
    var stageRuns: [StageJSON]
    /// The job's review, when it ever stopped for one (a channel with `review: true`).
    var review: ReviewJSON? = nil

    enum CodingKeys: String, CodingKey {
        case stages, attempts, review, stageRuns = "stage_runs"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(stages, forKey: .stages)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(stageRuns, forKey: .stageRuns)
        try c.encodeIfPresent(review, forKey: .review)
    }
}

/// What `enqueue --json` adds to the job: whether this call made it (false: its unique key was taken).
struct EnqueuedJSON: Encodable {
    var inserted: Bool
}

/// What `status --json` adds to a running job: how long its attempt has run, when known.
struct RunningJSON: Encodable {
    var elapsedSeconds: Double?

    enum CodingKeys: String, CodingKey { case elapsedSeconds = "elapsed_seconds" }
}

/// A registered worker: `ytauto-admin workers`.
struct WorkerJSON: Encodable {
    var id: String
    var pid: Int
    var host: String
    var state: String
    var startedAt: String
    var lastSeenAt: String
    var stoppedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, pid, host, state
        case startedAt = "started_at", lastSeenAt = "last_seen_at", stoppedAt = "stopped_at"
    }
}

/// A scheduler's decision about a slot: `ytauto-admin slots`.
struct SlotJSON: Encodable {
    var channel: String
    var slotAt: String
    var cron: String
    var decision: String
    var decidedAt: String
    var topic: String?
    var jobID: Int64?
    var detail: String?

    enum CodingKeys: String, CodingKey {
        case channel, cron, decision, topic, detail
        case slotAt = "slot_at", decidedAt = "decided_at", jobID = "job_id"
    }

    init(_ s: SlotRecord) {
        channel = s.channel
        slotAt = Timestamp.string(s.slotAt)
        cron = s.expression
        decision = s.decision
        decidedAt = Timestamp.string(s.decidedAt)
        topic = s.topic
        jobID = s.jobID
        detail = s.detail
    }
}

/// A row of the quota ledger: `ytauto-admin quota`.
struct LedgerJSON: Encodable {
    var day: String
    var provider: String
    var channel: String
    var unit: String
    var amount: Int64

    init(_ e: LedgerEntry) {
        day = e.day
        provider = e.provider
        channel = e.channel
        unit = e.unit
        amount = e.amount
    }
}

/// `ytauto-admin check --json`.
struct CheckJSON: Encodable {
    var database: String
    var check: String
    var ok: Bool
    var problems: [String]
}

/// `ytauto status --json`.
struct StatusJSON: Encodable {
    /// A live worker, and whether its lock says it is still alive.
    struct Worker: Encodable {
        var id: String
        var pid: Int
        var host: String
        var alive: Bool
        var startedAt: String
        var lastSeenAt: String

        enum CodingKeys: String, CodingKey {
            case id, pid, host, alive
            case startedAt = "started_at", lastSeenAt = "last_seen_at"
        }
    }

    /// The disk the jobs' files use, or why it is not known (the configuration could not be read).
    struct Disk: Encodable {
        var workDir: String?
        var workBytes: Int64?
        var outputDir: String?
        var outputBytes: Int64?
        /// The stock footage cache, inside the work folder (its bytes are part of `work_bytes`).
        var stockDir: String?
        var stockBytes: Int64?
        var error: String?

        enum CodingKeys: String, CodingKey {
            case error
            case workDir = "work_dir", workBytes = "work_bytes", outputDir = "output_dir", outputBytes = "output_bytes"
            case stockDir = "stock_dir", stockBytes = "stock_bytes"
        }
    }

    var database: String
    var schemaVersion: Int
    /// Jobs by state, every state present.
    var jobs: [String: Int]
    /// Jobs by channel, then by state (only the states a channel has).
    var channels: [String: [String: Int]]
    var running: [JobWith<RunningJSON>]
    var workers: [Worker]
    var oldestDueQueuedAgeSeconds: Double?
    /// The paused channels.
    var paused: [Pause]
    var disk: Disk

    struct Pause: Encodable {
        var channel: String
        var pausedAt: String
        var pausedBy: String

        enum CodingKeys: String, CodingKey {
            case channel
            case pausedAt = "paused_at", pausedBy = "paused_by"
        }
    }

    enum CodingKeys: String, CodingKey {
        case database, jobs, channels, running, workers, disk, paused
        case schemaVersion = "schema_version", oldestDueQueuedAgeSeconds = "oldest_due_queued_age_seconds"
    }
}

/// An entry of the audit log: `ytauto-admin audit`, and the console's `/api/audit`.
struct AuditJSON: Encodable {
    var id: Int64
    var at: String
    var actor: String
    var action: String
    var target: String
    var detail: String?

    init(_ e: AuditEntry) {
        id = e.id
        at = Timestamp.string(e.at)
        actor = e.actor
        action = e.action
        target = e.target
        detail = e.detail
    }
}
