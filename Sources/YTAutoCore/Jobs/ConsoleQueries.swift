import Foundation

/// Which jobs the console's (and the API's) job list shows: every condition given must hold.
/// Pages are keyset pages, newest first: the next page is the jobs below the last id shown, so a
/// page costs the same on the millionth job as on the first.
public struct JobQuery: Sendable, Hashable {
    public var state: JobState?
    public var channel: String?
    /// The job's last error code (`provider.rate_limited`, `stage.timeout`, …), exactly.
    public var errorCode: String?
    /// Text the topic contains, ignoring case (ASCII letters).
    public var topicContains: String?
    /// Only jobs with an id below this one (the last id of the previous page).
    public var beforeID: Int64?

    public init(state: JobState? = nil, channel: String? = nil, errorCode: String? = nil, topicContains: String? = nil, beforeID: Int64? = nil) {
        self.state = state
        self.channel = channel
        self.errorCode = errorCode
        self.topicContains = topicContains
        self.beforeID = beforeID
    }

    /// The topic text as a LIKE pattern, its own `%`, `_` and `\` escaped (with `ESCAPE '\'`).
    public var topicPattern: String? {
        guard let text = topicContains, !text.isEmpty else { return nil }
        var escaped = ""
        for c in text.lowercased() {
            if c == "%" || c == "_" || c == "\\" { escaped.append("\\") }
            escaped.append(c)
        }
        return "%" + escaped + "%"
    }
}

/// Jobs that finished in one hour (UTC), by how they ended.
public struct HourlyCount: Sendable, Hashable, Codable {
    public var hour: Date
    public var state: JobState
    public var count: Int

    public init(hour: Date, state: JobState, count: Int) {
        self.hour = hour
        self.state = state
        self.count = count
    }
}

/// Failed jobs with one last error code.
public struct CodeCount: Sendable, Hashable, Codable {
    public var code: String
    public var count: Int

    public init(code: String, count: Int) {
        self.code = code
        self.count = count
    }
}

/// How long one run of a stage took.
public struct StageDuration: Sendable, Hashable {
    public var stage: String
    public var state: StageState
    public var durationMS: Int64

    public init(stage: String, state: StageState, durationMS: Int64) {
        self.stage = stage
        self.state = state
        self.durationMS = durationMS
    }
}

/// One operator action, as the audit log keeps it: who, when, what, on what.
public struct AuditEntry: Sendable, Hashable, Codable {
    public var id: Int64
    public var at: Date
    /// Who: `web:<address>` for the console on loopback, `cli:<user>` for ytauto-admin.
    public var actor: String
    /// What: `retry`, `cancel`, `bulk-retry`, `bulk-cancel`, …
    public var action: String
    /// On what: `job 42`, `jobs state=failed channel=facts`, …
    public var target: String
    /// What came of it (`requested`, `42 jobs`, an error's message).
    public var detail: String?

    public init(id: Int64, at: Date, actor: String, action: String, target: String, detail: String?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }
}

/// What the web console reads and records beyond the commands' needs. Both engines implement it.
public protocol ConsoleStore: OperatorStore {
    /// Up to `limit` jobs matching `query`, newest (highest id) first.
    func jobs(matching query: JobQuery, limit: Int) async throws -> [Job]

    /// Jobs that finished (succeeded, failed or were cancelled) since `since`, by UTC hour and state.
    func finishedByHour(since: Date) async throws -> [HourlyCount]

    /// Jobs that failed since `since`, by their last error code, most first.
    func failuresByCode(since: Date) async throws -> [CodeCount]

    /// Runs of stages that started since `since` and have ended, newest first, at most `limit`.
    func stageDurations(since: Date, limit: Int) async throws -> [StageDuration]

    /// Records an operator's action; returns the entry as stored.
    @discardableResult
    func recordAudit(actor: String, action: String, target: String, detail: String?) async throws -> AuditEntry

    /// The newest `limit` entries of the audit log, newest first.
    func auditLog(limit: Int) async throws -> [AuditEntry]

    /// How long each attempt that started at or after `since` waited for a worker (its start less
    /// when its job was due), newest first, at most `limit`; attempts recorded without a due time
    /// are left out.
    func leaseWaits(since: Date, limit: Int) async throws -> [Duration]

    /// A number that moves when jobs or their stages may have changed, in any process (on
    /// PostgreSQL, on any host): read it before reading what to show.
    var changeSequence: UInt64 { get }

    /// Returns once ``changeSequence`` moved past `seen` (a stage recorded, a job queued, and on
    /// SQLite any write: a lease, a job's end), or after `timeout`. No polling: SQLite's change
    /// word (a futex shared through `<db>-wake`, moved by every write transaction), PostgreSQL's
    /// `LISTEN` (see ``changesIncludeJobEnds``).
    func waitForChange(seen: UInt64, timeout: Duration) async

    /// Whether a job's end (succeeded, failed, cancelled) moves ``changeSequence``.
    /// On SQLite it does (every write transaction does). On PostgreSQL it does not: a notification
    /// at every completion would serialize the workers' commits (PostgreSQL takes one lock for
    /// every committing transaction that notifies), so whoever must see ends reads the running jobs.
    var changesIncludeJobEnds: Bool { get }
}
