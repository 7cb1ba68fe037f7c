import Foundation

/// A job that ``OperatorStore/pruneReturningJobs(finishedBefore:batchSize:)`` deleted: enough to
/// find its files (the work folder by id, the output folder by channel, id and topic).
public struct PrunedJob: Sendable, Hashable {
    public let id: Int64
    public let channel: String
    public let topic: String?
    public let state: JobState

    public init(id: Int64, channel: String, topic: String?, state: JobState) {
        self.id = id
        self.channel = channel
        self.topic = topic
        self.state = state
    }
}

/// One row of the quota ledger.
public struct LedgerEntry: Sendable, Hashable {
    public var day: String
    public var provider: String
    public var channel: String
    public var unit: String
    public var amount: Int64

    public init(day: String, provider: String, channel: String, unit: String, amount: Int64) {
        self.day = day
        self.provider = provider
        self.channel = channel
        self.unit = unit
        self.amount = amount
    }
}

/// Everything the commands (`ytauto`, `ytauto-admin`, `run-once`) need of the store: the
/// queue, the worker's and the scheduler's contracts, the quota and footage ledgers, the
/// channels' history, and what operators read (workers, slots, stage runs, running attempts) and
/// do (prune). The commands hold an `any OperatorStore` that one place opens from `--db`
/// (`GlobalOptions.openStore`); the engine's own tools (`backup`, `check`, `migrate`) are the
/// only ones that know it is SQLite.
public protocol OperatorStore: WorkerStore, SchedulerStore, QuotaLedger, FootageLedger, ChannelHistoryLedger {
    /// Whether it was opened for reading only.
    var isReadOnly: Bool { get }

    /// Raises a queued job's attempts to at least `count` (nothing for a job in another state):
    /// `run-once` gives its job one attempt while the operator watches, and its channel's
    /// `max_attempts` once it hands the job back to the workers.
    func allowAttempts(jobID: Int64, atLeast count: Int) async throws

    /// Closes its connections; every later call fails. A command calls it as it ends: on
    /// SQLite, the last connection to close folds the `-wal` into the file and removes it.
    func close()

    /// The newest schema migration applied.
    func schemaVersion() async throws -> Int

    /// The topic `ytauto enqueue` takes when none is given (``SchedulingRules/suggestTopic(_:lastUse:recencyDays:now:)``).
    func suggestTopic(for channel: ChannelConfig) async throws -> (topic: String, recent: Bool)

    /// Enqueues `new` on `channel`'s next topic (``suggestTopic(for:)``; `new.topic` is not
    /// read), chosen and inserted in one transaction that concurrent ones of the channel wait
    /// for (and the scheduler's, on PostgreSQL): enqueues at once take different topics, where
    /// a suggestion read apart from its insert gave them all the same one. `recent`: every
    /// topic was used within the channel's recency, and the oldest was taken.
    func enqueueNextTopic(_ new: NewJob, channel: ChannelConfig) async throws -> (result: EnqueueResult, recent: Bool)

    /// Every run of every stage of a job, per attempt.
    func stageRuns(jobID: Int64) async throws -> [StageRunRecord]

    /// The scheduler's decisions, newest first (of one channel, if given).
    func slots(channel: String?, limit: Int) async throws -> [SlotRecord]

    /// Where the schedulers stopped looking for `channel`, or nil when none has seen it.
    func scheduleCursor(channel: String) async throws -> Date?

    /// The running jobs.
    func runningJobs() async throws -> [Job]

    /// When each running job's current attempt started, by job id.
    func runningAttemptStarts() async throws -> [Int64: Date]

    /// ``JobStore/prune(finishedBefore:batchSize:)``, returning the jobs it deleted so the
    /// caller can remove their files.
    func pruneReturningJobs(finishedBefore cutoff: Date, batchSize: Int) async throws -> [PrunedJob]

    /// Whether any job that prune would delete (finished before `cutoff`) was ever leased, so it
    /// may have folders on disk: a job cancelled before a worker took it never had any.
    func prunableJobsRan(finishedBefore cutoff: Date) async throws -> Bool

    /// Whether a worker registered as running is dead by what this process can see (a look,
    /// changing nothing): true when its proof of life is gone, false when it holds, nil when
    /// it cannot be told from here (on SQLite, a worker of another host; PostgreSQL sees every host's).
    func isAbandoned(_ worker: WorkerRecord) async throws -> Bool?

    /// Whether ``JobStore/reclaim()`` would free anything (reads only).
    func needsReclaim() async throws -> Bool

    /// The quota ledger from `day` (`YYYY-MM-DD`) on.
    func ledger(since day: String) async throws -> [LedgerEntry]

    /// Redoes a job from a stage (``JobRules/stagesToRedo(from:)``): the records of that stage and
    /// every later one are cleared (their past runs stay in the history) and the job is queued
    /// again, due now, with one more attempt if it had none left; the stages before it are kept,
    /// so a new thumbnail does not cost a new script. Any state but running; never a job already
    /// uploaded (``JobRules/redoRefusal(jobID:state:publishedVideoID:)``). A redo forgets the
    /// job's review decision: what it makes again is reviewed again.
    func redo(jobID: Int64, from stage: String) async throws -> Job

    /// Pauses `channel`: from the next pass its slots are recorded `paused` (no job), and no
    /// worker leases its queued jobs (they stay queued, in order) until it is resumed. Running
    /// jobs finish. `ytauto run-once JOB` still runs one of its jobs: that is an operator asking.
    /// Returns the pause as stored (the earlier one if it was already paused) and whether this call made it.
    func pause(channel: String, by actor: String) async throws -> (pause: ChannelPause, isNew: Bool)

    /// Resumes `channel` and wakes idle workers; returns the pause it ended, nil if it was not paused.
    func resume(channel: String) async throws -> ChannelPause?

    /// The paused channels, by name.
    func pausedChannels() async throws -> [ChannelPause]

    /// Approves a job waiting for review: it is queued again, due now, and its next worker
    /// publishes it (the stages before are kept). Only a job in state `review`
    /// (``ReviewRules/decisionRefusal(jobID:state:action:)``).
    func approve(jobID: Int64, by actor: String) async throws -> Job

    /// Rejects a job waiting for review: it ends `cancelled` with `review.rejected` and the
    /// reason as its last error; its files stay until pruned. Only a job in state `review`.
    func reject(jobID: Int64, reason: String, by actor: String) async throws -> Job

    /// The job's review, if it ever stopped for one.
    func review(jobID: Int64) async throws -> ReviewRecord?

    /// The jobs waiting for review, longest waiting first (through an index of them alone).
    func waitingForReview(limit: Int) async throws -> [Job]
}

/// A channel an operator paused: when and by whom (`cli:<user>`, `web (loopback)`).
public struct ChannelPause: Sendable, Hashable, Codable {
    public var channel: String
    public var pausedAt: Date
    public var pausedBy: String

    public init(channel: String, pausedAt: Date, pausedBy: String) {
        self.channel = channel
        self.pausedAt = pausedAt
        self.pausedBy = pausedBy
    }

    /// What a slot of the channel is recorded with while it is paused.
    public var slotDetail: String { "channel paused at \(Timestamp.string(pausedAt)) by \(pausedBy)" }
}
