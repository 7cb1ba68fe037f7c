import Foundation

/// One job with everything recorded about it, as `ytauto-admin copy` moves it between engines.
public struct CopiedJob: Sendable, Hashable {
    public var job: Job
    public var stages: [StageRecord]
    public var attempts: [AttemptRecord]
    public var stageRuns: [StageRunRecord]
    /// Its review, if it ever stopped for one.
    public var review: ReviewRecord?

    public init(job: Job, stages: [StageRecord], attempts: [AttemptRecord], stageRuns: [StageRunRecord], review: ReviewRecord? = nil) {
        self.job = job
        self.stages = stages
        self.attempts = attempts
        self.stageRuns = stageRuns
        self.review = review
    }
}

/// A channel's topic as the pruned jobs that no schedule slot named left it (`pruned_topic_uses`):
/// how many there were and when the newest was made. It keeps the topic used for the channel's
/// `topic_recency_days` once the job that used it is pruned.
public struct PrunedTopicUse: Sendable, Hashable {
    public var channel: String
    public var topic: String
    public var uses: Int64
    public var lastUsedAt: Date

    public init(channel: String, topic: String, uses: Int64, lastUsedAt: Date) {
        self.channel = channel
        self.topic = topic
        self.uses = uses
        self.lastUsedAt = lastUsedAt
    }
}

/// What is not a job's: the workers (for the history's worker ids), the scheduler's slots and
/// cursors, the quota ledger, the audit log (oldest first), the paused channels, the footage ledger,
/// the channels' history and the pruned jobs' topics.
public struct CopiedInstallation: Sendable, Hashable {
    public var workers: [WorkerRecord]
    public var slots: [SlotRecord]
    public var cursors: [String: Date]
    /// Each schedule entry's cursor, by channel and entry (`schedule_expression_cursors`).
    public var expressionCursors: [ExpressionCursor]
    public var ledger: [LedgerEntry]
    public var audit: [AuditEntry]
    public var pauses: [ChannelPause]
    public var footage: [FootageUse]
    public var history: [ChannelHistoryEntry]
    public var prunedTopics: [PrunedTopicUse]
    /// The highest job id the source ever gave, pruned jobs' included: the target gives its new
    /// jobs higher ones, so an id named by a copied slot, audit entry or output folder never
    /// names another job.
    public var highestJobID: Int64

    public init(workers: [WorkerRecord], slots: [SlotRecord], cursors: [String: Date], ledger: [LedgerEntry], audit: [AuditEntry],
                pauses: [ChannelPause], footage: [FootageUse], history: [ChannelHistoryEntry] = [], prunedTopics: [PrunedTopicUse] = [],
                highestJobID: Int64 = 0, expressionCursors: [ExpressionCursor] = []) {
        self.expressionCursors = expressionCursors
        self.workers = workers
        self.slots = slots
        self.cursors = cursors
        self.ledger = ledger
        self.audit = audit
        self.pauses = pauses
        self.footage = footage
        self.history = history
        self.prunedTopics = prunedTopics
        self.highestJobID = highestJobID
    }
}

/// Where the schedulers stopped looking for one schedule entry of a channel.
public struct ExpressionCursor: Sendable, Hashable {
    public var channel: String
    public var expression: String
    public var evaluatedUntil: Date
    public init(channel: String, expression: String, evaluatedUntil: Date) {
        self.channel = channel
        self.expression = expression
        self.evaluatedUntil = evaluatedUntil
    }
}

/// `ytauto-admin copy`: an engine reads its installation out and writes one into an empty
/// database of its kind, ids kept (a job is the same job, its attempts the same attempts).
public protocol StoreCopying: ConsoleStore {
    /// Up to `limit` jobs with an id above `id`, in id order, each with its stages, attempts, stage runs and review.
    func copiedJobs(after id: Int64, limit: Int) async throws -> [CopiedJob]
    /// Workers, slots, cursors, ledger, audit log, pauses, footage uses, the channels' history and the pruned jobs' topics.
    func copiedInstallation() async throws -> CopiedInstallation
    /// Whether the database holds nothing a copy could collide with (no job, slot, cursor, ledger row, worker, audit entry, pause, footage use, history entry or pruned topic).
    func isEmptyForCopy() async throws -> Bool
    /// Writes `jobs` (ids kept) in one transaction.
    func insertCopied(_ jobs: [CopiedJob]) async throws
    /// Writes the rest, in one transaction, after the jobs.
    func insertCopied(_ installation: CopiedInstallation) async throws
    /// Marks the database as the target of a copy under way (a table `copy_in_progress`, with the
    /// source's name and the start), before the first row is written. A copy stopped part-way
    /// (killed, its connection lost, its counts not agreeing) leaves the mark, and every command
    /// that opens the database refuses it (``interruptedCopy()``): its history is partial, and its
    /// next job ids could be ones the source had already given.
    func beginCopy(from source: String) async throws
    /// Removes the mark, once everything was written and checked.
    func endCopy() async throws
    /// The mark, or nil when there is none.
    func interruptedCopy() async throws -> CopyMark?
}

/// The mark of a copy under way or stopped part-way (``StoreCopying/beginCopy(from:)``): its
/// source and when it began, as the engine keeps them; nil where the mark has lost its row.
public struct CopyMark: Sendable, CustomStringConvertible {
    public let source: String?
    public let startedAt: String?

    public init(source: String?, startedAt: String?) {
        self.source = source
        self.startedAt = startedAt
    }

    public var description: String { source.map { "a copy from \($0) begun at \(startedAt ?? "?")" } ?? "a copy" }
}
