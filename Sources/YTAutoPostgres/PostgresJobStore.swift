import Foundation
import Logging
import PostgresNIO
import Synchronization
import YTAutoCore

/// The job store on PostgreSQL, for workers on several hosts.
///
/// The same contract and the same rules (``JobRules``, ``SchedulingRules``) as the SQLite store;
/// what differs is how it keeps them:
/// - **Time** is the database server's (`now()`, to the millisecond), never a worker's: clock
///   skew between hosts cannot expire or extend a lease. (A test may pass a `clock`; then every
///   statement uses it instead, as the SQLite store uses its own.)
/// - **Leasing** is one statement: the next due job `FOR UPDATE SKIP LOCKED`, its lease, and its
///   attempt row; concurrent workers skip each other's rows instead of waiting.
/// - **Fencing**: every write about a leased job checks owner and token in the same transaction,
///   under the row's lock, so a worker whose lease was taken over changes nothing and gets
///   ``LeaseLost``.
/// - **Liveness**: a worker holds a session-level advisory lock on a connection of its own for
///   its life (``PostgresWorkerSession``); any process on any host that finds no holder in
///   `pg_locks` knows the worker is gone. Lease expiry remains the backstop.
/// - **Wake-ups**: a trigger notifies `ytauto_work` whenever a job becomes queued; idle workers
///   `LISTEN` on their session connection instead of polling.
public final class PostgresJobStore: Sendable {
    let pool: PostgresPool
    public let url: PostgresURL
    public let retryPolicy: RetryPolicy
    let clock: (@Sendable () -> Date)?
    let signal = SequenceSignal()
    /// Completions asked for together on the bookkeeping thread, waiting to share a statement.
    let completions: CompletionGroups
    /// The web console's live view (``waitForChange(seen:timeout:)``); idle until asked.
    let changes = ChangeListener()
    public let isReadOnly: Bool
    let logger: Logger
    /// How long a worker's session waits before it first tries to reconnect (tests lengthen it to
    /// see the worker dead in between; a live process coming back at once is right otherwise).
    let sessionReconnectPause = Mutex(Duration.zero)
    /// How many of the first jobs in lease order a lease looks at before it reads the lanes
    /// (``LeasePick/windowSize``; the model test narrows it so that its small queues reach the lanes).
    let leaseWindow = Mutex(LeasePick.windowSize)

    /// Opens the store. With `migrate`, applies pending migrations (under an advisory lock, so
    /// concurrent starts migrate once); without, refuses a schema that is not this binary's.
    /// - Parameters:
    ///   - clock: for tests only: a time source used instead of the server's.
    ///   - logger: where the store says what it does on its own (a worker's session lost and back);
    ///     postgres-nio's own logs are dropped (what matters reaches the caller as an error).
    ///   - deadline: how long a call waits for the server's answer before it fails, saying so.
    public init(
        url: PostgresURL, retryPolicy: RetryPolicy = .init(), readOnly: Bool = false, migrate: Bool = true,
        maximumConnections: Int = 8, clock: (@Sendable () -> Date)? = nil, logger: Logger = Logger(label: "ytauto.postgres"),
        deadline: Duration = .seconds(15)
    ) async throws {
        self.url = url
        self.retryPolicy = retryPolicy
        self.clock = clock
        self.isReadOnly = readOnly
        self.logger = logger
        // One thread a database (its address and name): the stores of one process on it share it.
        self.completions = CompletionGroups(threadKey: "postgres:" + url.redacted)
        // One connection first, once: the pool would retry a server it cannot reach for ever, and a
        // command must say at once that it cannot (and why: refused, unknown host, bad password).
        try await PostgresWorkerSession.connect(url: url, logger: logger).close()
        self.pool = try PostgresPool(url: url, applicationName: "ytauto", maximumConnections: maximumConnections, deadline: deadline, readOnly: readOnly)
        do {
            let migrator = PostgresMigrator()
            if migrate && !readOnly {
                // Its own pool, with minutes to answer: concurrent starts wait on the migration lock
                // while one of them migrates, which on a loaded server may take more than a statement's 15 s.
                let migrating = try PostgresPool(url: url, applicationName: "ytauto migrate", maximumConnections: 1, deadline: .seconds(300))
                defer { migrating.close() }
                try await migrator.migrate(migrating)
            } else {
                let applied = try await migrator.applied(pool)
                try Migration.check(applied: applied, against: migrator.migrations)
                let have = applied.map(\.version).max() ?? 0
                let want = migrator.migrations.last?.version ?? 0
                if have < want {
                    throw PostgresStoreError("the database \(url.redacted) is at schema version \(have); this ytauto needs \(want): "
                        + "run `ytauto-admin migrate --db \(url.redacted)`")
                }
            }
        } catch {
            pool.close()
            throw error
        }
    }

    public func allowAttempts(jobID: Int64, atLeast count: Int) async throws {
        try await pool.transaction { tx in
            try await tx.run("UPDATE jobs SET max_attempts = greatest(max_attempts, \(count)) WHERE id = \(jobID) AND state = 'queued'")
        }
    }

    /// Closes the pool's connections.
    public func close() {
        changes.stop()
        pool.close()
    }

    /// Applies pending migrations (`ytauto-admin migrate`): those this call applied, and the
    /// schema's history after it.
    public static func migrate(url: PostgresURL) async throws -> (applied: [Migration], history: [AppliedMigration]) {
        // One connection first, as ``init(url:retryPolicy:readOnly:migrate:maximumConnections:clock:logger:deadline:)``
        // makes: the pool retried a wrong password or a missing database in silence for its whole
        // 300 s deadline (it ended, after 68 s, in "connectionCreationCircuitBreakerTripped").
        try await PostgresWorkerSession.connect(url: url, logger: Logger(label: "ytauto.postgres")).close()
        let pool = try PostgresPool(url: url, applicationName: "ytauto-admin migrate", maximumConnections: 2, deadline: .seconds(300))
        defer { pool.close() }
        let migrator = PostgresMigrator()
        let applied = try await migrator.migrate(pool)
        return (applied, try await migrator.applied(pool))
    }

    // MARK: - Time

    /// The test clock's time, bound into statements as `coalesce($n::timestamptz, <server now>)`; nil
    /// (the server's clock) in production.
    var nowBind: Date? { clock.map { $0().roundedToMilliseconds } }

    /// Now, as the statements will see it: the server's clock in production. For checks made
    /// before a statement (a lease's end past year 9999); the statements read the server's.
    var approximateNow: Date { clock?() ?? Date() }

    /// The transaction's now (the server's, or the test clock's).
    func now(_ tx: PGTransaction) async throws -> Date {
        let row = try await tx.queryOne("SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())) AS now")
        return try row!.required("now", row!.date)
    }

    // MARK: - Rows

    static func job(_ row: PGRow) throws -> Job {
        let r = row.named(table: "jobs", row: "job \((try? row.int("id")).flatMap { $0.map(String.init) } ?? "?")")
        let state = try r.value("state", JobState.self, expected: "a job state")
        let kind = try r.value("kind", JobKind.self, expected: "a job kind")
        return Job(
            id: try r.required("id", r.int), channel: try r.required("channel", r.string), topic: try r.string("topic"),
            payload: try r.required("payload", r.string), state: state, priority: Int(try r.required("priority", r.int)),
            runAt: try r.required("run_at", r.date), attempt: Int(try r.required("attempt", r.int)),
            maxAttempts: Int(try r.required("max_attempts", r.int)), leaseOwner: try r.string("lease_owner"),
            leaseToken: try r.required("lease_token", r.int), leaseExpiresAt: try r.date("lease_expires_at"),
            cancelRequested: try r.required("cancel_requested", r.bool), currentStage: try r.string("current_stage"),
            uniqueKey: try r.string("unique_key"), lastErrorCode: try r.string("last_error_code"),
            lastErrorMessage: try r.string("last_error_message"), createdAt: try r.required("created_at", r.date),
            updatedAt: try r.required("updated_at", r.date), finishedAt: try r.date("finished_at"), kind: kind,
            scheduledAt: try r.date("scheduled_at"))
    }

    static func attempt(_ row: PGRow) throws -> AttemptRecord {
        let r = row.named(table: "job_attempts", row: "attempt \((try? row.int("attempt")).flatMap { $0.map(String.init) } ?? "?") of job \((try? row.int("job_id")).flatMap { $0.map(String.init) } ?? "?")")
        return AttemptRecord(
            id: try r.required("id", r.int), jobID: try r.required("job_id", r.int), attempt: Int(try r.required("attempt", r.int)),
            leaseToken: try r.required("lease_token", r.int), channel: try r.required("channel", r.string),
            workerID: try r.required("worker_id", r.string), startedAt: try r.required("started_at", r.date),
            finishedAt: try r.date("finished_at"), outcome: try r.optionalValue("outcome", AttemptOutcome.self, expected: "an attempt outcome"),
            stage: try r.string("stage"), errorCode: try r.string("error_code"), errorMessage: try r.string("error_message"),
            pipeline: try r.string("pipeline"), leaseSeconds: try r.double("lease_seconds"), heartbeatAt: try r.date("heartbeat_at"),
            dueAt: try r.date("due_at"))
    }

    static func stageState(_ r: PGRow) throws -> StageState {
        try r.value("state", StageState.self, expected: "a stage state")
    }

    static func payload(topic: String?, options: [String: String]) -> String {
        struct Payload: Encodable { var options: [String: String]; var topic: String? }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(Payload(options: options, topic: topic)) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: - Enqueue

    public func enqueue(_ new: NewJob) async throws -> EnqueueResult {
        try JobRules.checkNewJob(new)
        let nowBind = self.nowBind
        let result = try await pool.transaction { tx in try await Self.insert(tx, new, nowBind: nowBind) }
        if result.inserted { signal.bump() }
        return result
    }

    static func insert(_ tx: PGTransaction, _ new: NewJob, nowBind: Date?) async throws -> EnqueueResult {
        let payload = Self.payload(topic: new.topic, options: new.options)
        let runAt = new.runAt?.roundedToMilliseconds
        let inserted = try await tx.queryOne("""
            WITH t AS (SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())) AS now)
            INSERT INTO jobs (channel, topic, payload, state, priority, run_at, max_attempts, unique_key, created_at, updated_at, kind, scheduled_at)
            SELECT \(new.channel), \(new.topic), \(payload), 'queued', \(new.priority), coalesce(\(runAt)::timestamptz, t.now),
                   \(new.maxAttempts), \(new.uniqueKey), t.now, t.now, \(new.kind.rawValue), coalesce(\(runAt)::timestamptz, t.now)
              FROM t
            ON CONFLICT (unique_key) DO NOTHING
            RETURNING *
            """)
        if let inserted { return EnqueueResult(job: try job(inserted), inserted: true) }
        guard let existing = try await tx.queryOne("SELECT * FROM jobs WHERE unique_key = \(new.uniqueKey)") else {
            throw JobStoreError.invalidArgument("enqueue inserted nothing and found no job with key \(new.uniqueKey ?? "nil")")
        }
        return EnqueueResult(job: try job(existing), inserted: false)
    }

    // MARK: - Lease

    /// How a lease statement picks its jobs (``leaseQuery(worker:channels:kind:pipeline:seconds:only:now:completing:pick:window:)``).
    ///
    /// An ordered scan of the queue with the due time and the pause as filters, as the lease was
    /// before 2026-12-05, steps over each job ahead of the first it may lease: jobs of a better
    /// priority not due yet (a channel whose retries are backed off for a day) and paused channels'
    /// jobs (a channel held for a week, its jobs the oldest), 143 ms and 40,000 buffers a lease
    /// behind 20,000 of each (docs/benchmarks.md; PostgresQueryPlanTests). So a lease reads at most
    /// two bounded things, in turn:
    enum LeasePick: Sendable {
        /// The first ``windowSize`` queued jobs in lease order, whatever their due time, channel or
        /// lock: the first of them that is due, not paused and not locked by another transaction
        /// is the job lease order names, found in one probe when the queue's first job is. Its
        /// `ORDER BY` is the window's own order, which the nested loop keeps, so no sort.
        case window
        /// A statement's second try, when the window held nothing to lease, and the first for a
        /// worker limited to channels. A lane is a channel's jobs of one priority (`lane`: a skip
        /// scan of `jobs_lease_channel`, a probe a lane); its head is its first due job (`head`:
        /// a probe a lane, paused channels and channels not asked for left out); `picked` takes
        /// the lanes in the order of their heads and locks jobs in each, `FOR UPDATE SKIP LOCKED`,
        /// until it has as many as it leases (the nested loop stops there, so a lane after that is
        /// never locked in). Two probes a lane (a channel has one lane per priority it uses),
        /// whatever the backlog. Against lease order taken strictly, it gives up two things: a
        /// group of two takes both jobs from the best lane when it has two due, though another
        /// lane's head may come between them; and when another transaction holds a lane's head,
        /// it takes that lane's next job, though another lane's head may come before it.
        case lanes

        /// Jobs ahead of the first leasable one that the window steps over before giving way to
        /// the lanes: room for the jobs other workers are leasing at the same moment.
        static let windowSize = 32

        /// The window, unless the worker is limited to channels: the first jobs of all channels
        /// would then often be none of its.
        static func first(channels: [String]?) -> LeasePick { channels == nil ? .window : .lanes }
    }

    public func lease(worker: String, channels: [String]?, kind: JobKind, pipeline: String?, duration: Duration) async throws -> Lease? {
        try await lease(worker: worker, channels: channels, kind: kind, pipeline: pipeline, duration: duration, only: nil)
    }

    /// Leases the next due job of `kind` (of `channels`, if given), or only the job `only` if it
    /// is queued, in one statement: pick `FOR UPDATE SKIP LOCKED`, lease, record the attempt (a
    /// second statement picks from the lanes when the first jobs in lease order held none to
    /// lease: ``LeasePick``).
    public func lease(
        worker: String, channels: [String]?, kind: JobKind = .video, pipeline: String? = nil, duration: Duration, only jobID: Int64?
    ) async throws -> Lease? {
        _ = try Timestamp.checked(approximateNow.addingTimeInterval(duration.seconds), "a lease of \(duration) from now")
        if let channels, channels.isEmpty { return nil }
        // The first jobs in lease order first (one probe in the common case), then the lanes when
        // none of those could be leased (``LeasePick``).
        let first = LeasePick.first(channels: channels)
        if let leased = try await leaseOnce(Self.leaseQuery(worker: worker, channels: channels, kind: kind, pipeline: pipeline,
                                                            seconds: duration.seconds, only: jobID, now: nowBind, pick: first,
                                                            window: leaseWindow.withLock { $0 }), worker: worker) {
            return leased
        }
        guard jobID == nil, first == .window else { return nil }
        return try await leaseOnce(Self.leaseQuery(worker: worker, channels: channels, kind: kind, pipeline: pipeline,
                                                   seconds: duration.seconds, only: nil, now: nowBind, pick: .lanes), worker: worker)
    }

    /// Runs one lease statement: the job it leased, as `worker`'s lease, or nil.
    func leaseOnce(_ query: PostgresQuery, worker: String) async throws -> Lease? {
        try await pool.queryOne(query).map { try Self.lease($0, worker: worker) }
    }

    /// A running job's row as the lease `worker` holds on it.
    static func lease(_ row: PGRow, worker: String) throws -> Lease {
        let job = try Self.job(row)
        return Lease(job: job, owner: worker, token: job.leaseToken, expiresAt: try row.required("lease_expires_at", row.date))
    }

    /// The lease statement (``lease(worker:channels:kind:pipeline:duration:only:)``), apart so that
    /// its plan can be tested (PostgresQueryPlanTests).
    ///
    /// How the statement picks its jobs is `pick` (``LeasePick``): the first jobs in lease order
    /// (`.window`, the default without `channels`) or the lanes (`.lanes`).
    ///
    /// A paused channel is told by `ytauto_channel_paused(channel)` (migration 0009), a function
    /// the planner cannot see into, rather than `NOT EXISTS` over `channel_pauses`: that table is
    /// never analyzed by autovacuum (it rarely changes), and on its default guess of 810 rows the
    /// planner chose a sequential scan and sort of every queued job (141 ms a lease at 60,000 queued).
    ///
    /// With `completing`, the statement first completes those leases (``completionCTEs(_:_:)``)
    /// and leases as many jobs as there were completions whose fence held; it then returns the
    /// completed jobs' rows too, `ytauto_row` telling `done` from `leased` (``complete(_:thenLease:)``).
    ///
    /// The picked jobs are updated by `id = ANY (ARRAY (SELECT id FROM picked))`, a probe of the
    /// primary key however many the planner expects: joined to `picked` instead, a group's
    /// `LIMIT (SELECT count(*) FROM done)` (no constant) made it hash every job (34 ms at 60,000
    /// jobs; PostgresQueryPlanTests).
    static func leaseQuery(worker: String, channels: [String]?, kind: JobKind, pipeline: String?, seconds: Double,
                           only jobID: Int64?, now nowBind: Date?, completing: [Lease] = [],
                           pick: LeasePick? = nil, window: Int = LeasePick.windowSize) -> PostgresQuery {
        let pick = pick ?? LeasePick.first(channels: channels)
        var q: PostgresQuery = """
            WITH RECURSIVE t AS (SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())) AS now),
            """
        if !completing.isEmpty {
            q.sql += completionCTEs(&q, completing) + ","
        }
        // How many to lease: one, or one for each completion whose fence held.
        let count = completing.count > 1 ? "(SELECT count(*) FROM done)" : "1"
        let due = completing.isEmpty ? "" : " AND EXISTS (SELECT 1 FROM done)"
        if let jobID {
            // A job asked for by its id is leased due or not (WorkerStore.lease(...only:)).
            q.sql += """

                picked AS (
                    SELECT jobs.id FROM jobs WHERE jobs.state = 'queued'\(due) AND jobs.id = $\(q.binds.count + 1)
                    FOR UPDATE OF jobs SKIP LOCKED
                ),
                """
            q.binds.append(jobID)
        } else if pick == .window {
            let k = q.binds.count + 1
            q.binds.append(kind.rawValue)
            q.sql += """

                picked AS (
                    SELECT jobs.id FROM (SELECT id, priority, run_at FROM jobs WHERE state = 'queued' AND kind = $\(k)
                                          ORDER BY priority, run_at, id LIMIT \(window)) AS f
                      JOIN jobs ON jobs.id = f.id, t
                     WHERE jobs.state = 'queued' AND jobs.run_at <= t.now AND NOT ytauto_channel_paused(jobs.channel)\(due)
                     ORDER BY f.priority, f.run_at, f.id LIMIT \(count) FOR UPDATE OF jobs SKIP LOCKED
                ),
                """
        } else {
            let k = q.binds.count + 1
            q.binds.append(kind.rawValue)
            var asked = ""
            if let channels {
                asked = " AND lane.channel = ANY($\(q.binds.count + 1)::text[])"
                q.binds.append(Array(Set(channels)).sorted())
            }
            q.sql += """

                lane AS (
                    (SELECT channel, priority FROM jobs WHERE state = 'queued' AND kind = $\(k) ORDER BY channel, priority LIMIT 1)
                    UNION ALL
                    SELECT n.channel, n.priority FROM lane, LATERAL (
                        SELECT channel, priority FROM jobs WHERE state = 'queued' AND kind = $\(k)
                           AND (channel, priority) > (lane.channel, lane.priority) ORDER BY channel, priority LIMIT 1) AS n
                ),
                head AS (
                    SELECT lane.channel, lane.priority, h.run_at, h.id FROM lane, t, LATERAL (
                        SELECT run_at, id FROM jobs WHERE state = 'queued' AND kind = $\(k) AND channel = lane.channel
                           AND priority = lane.priority AND run_at <= t.now ORDER BY run_at, id LIMIT 1) AS h
                     WHERE NOT ytauto_channel_paused(lane.channel)\(asked)
                ),
                picked AS (
                    SELECT c.id FROM (SELECT * FROM head ORDER BY priority, run_at, id) AS l, t, LATERAL (
                        SELECT jobs.id FROM jobs
                         WHERE jobs.state = 'queued' AND jobs.kind = $\(k) AND jobs.channel = l.channel
                           AND jobs.priority = l.priority AND jobs.run_at <= t.now\(due)
                         ORDER BY jobs.run_at, jobs.id LIMIT \(count) FOR UPDATE OF jobs SKIP LOCKED) AS c
                     LIMIT \(count)
                ),
                """
        }
        let w = q.binds.count + 1, s = w + 1, p = w + 2
        q.sql += """

            leased AS (
                UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1, lease_owner = $\(w), lease_token = jobs.lease_token + 1,
                       lease_expires_at = t.now + make_interval(secs => $\(s)), updated_at = t.now\(jobID == nil ? "" : """
            ,
                                   run_at = least(jobs.run_at, t.now), scheduled_at = least(jobs.scheduled_at, t.now)
            """)
                  FROM t WHERE jobs.id = ANY (ARRAY (SELECT id FROM picked))
                RETURNING jobs.*
            ),
            recorded AS (
                INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, pipeline, lease_seconds, heartbeat_at, due_at)
                SELECT leased.id, leased.attempt, leased.lease_token, leased.channel, $\(w), t.now, $\(p), $\(s), t.now, greatest(leased.run_at, leased.created_at) FROM leased, t
            )
            """
        q.sql += completing.isEmpty ? "SELECT * FROM leased"
            : "SELECT 'done' AS ytauto_row, * FROM done UNION ALL SELECT 'leased', * FROM leased"
        q.binds.append(worker)
        q.binds.append(seconds)
        q.binds.append(pipeline)
        return q
    }

    /// Reads the job's row under its lock and checks that `lease` is still its lease.
    static func requireLease(_ tx: PGTransaction, _ lease: Lease) async throws -> Job {
        guard let row = try await tx.queryOne("SELECT * FROM jobs WHERE id = \(lease.jobID) FOR UPDATE") else {
            throw LeaseLost(jobID: lease.jobID, token: lease.token, owner: lease.owner, currentState: nil, currentOwner: nil, currentToken: nil)
        }
        let job = try Self.job(row)
        guard job.state == .running, job.leaseToken == lease.token, job.leaseOwner == lease.owner else {
            throw LeaseLost(jobID: lease.jobID, token: lease.token, owner: lease.owner,
                            currentState: job.state, currentOwner: job.leaseOwner, currentToken: job.leaseToken)
        }
        return job
    }

    /// The ``LeaseLost`` for a fenced statement that changed nothing, saying whose the job is now.
    func leaseLost(_ lease: Lease) async throws -> LeaseLost {
        let row = try await pool.queryOne("SELECT * FROM jobs WHERE id = \(lease.jobID)")
        let job = try row.map(Self.job)
        return LeaseLost(jobID: lease.jobID, token: lease.token, owner: lease.owner,
                         currentState: job?.state, currentOwner: job?.leaseOwner, currentToken: job?.leaseToken)
    }

    public func heartbeat(_ lease: Lease, duration: Duration) async throws -> HeartbeatStatus {
        _ = try Timestamp.checked(approximateNow.addingTimeInterval(duration.seconds), "a lease of \(duration) from now")
        let row = try await pool.queryOne("""
            WITH t AS (SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())) AS now),
            held AS (
                UPDATE jobs SET lease_expires_at = t.now + make_interval(secs => \(duration.seconds)), updated_at = t.now
                  FROM t
                 WHERE jobs.id = \(lease.jobID) AND jobs.state = 'running' AND jobs.lease_token = \(lease.token)
                   AND jobs.lease_owner = \(lease.owner)
                RETURNING jobs.cancel_requested, jobs.lease_expires_at
            ),
            beat AS (
                UPDATE job_attempts SET heartbeat_at = t.now FROM t, held
                 WHERE job_attempts.job_id = \(lease.jobID) AND job_attempts.lease_token = \(lease.token)
            )
            SELECT * FROM held
            """)
        guard let row else { throw try await leaseLost(lease) }
        let until = try row.required("lease_expires_at", row.date)
        return try row.required("cancel_requested", row.bool) ? .cancelRequested(until: until) : .held(until: until)
    }

    /// One statement: the fenced update of the job's current stage (no row when the lease was
    /// lost, and then nothing else is written), the stage's latest row, and this attempt's run of it.
    public func checkpoint(
        _ lease: Lease, stage: String, state: StageState, artifacts: [Artifact], startedAt: Date, error: JobFailure?
    ) async throws {
        let artifactsJSON = String(decoding: try JSONEncoder().encode(artifacts), as: UTF8.self)
        // The end is the server's time, as every other; the start is the worker's (it began the stage).
        let started = startedAt.roundedToMilliseconds
        let running = state == .running
        let row = try await pool.queryOne("""
            WITH t AS (SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())) AS now),
            j AS (
                UPDATE jobs SET current_stage = \(stage), updated_at = t.now
                  FROM t
                 WHERE jobs.id = \(lease.jobID) AND jobs.state = 'running' AND jobs.lease_token = \(lease.token) AND jobs.lease_owner = \(lease.owner)
                RETURNING jobs.id, jobs.attempt,
                          CASE WHEN \(running) THEN NULL ELSE t.now END AS finished,
                          CASE WHEN \(running) THEN NULL ELSE round(extract(epoch FROM t.now - \(started)::timestamptz) * 1000)::bigint END AS ms
            ),
            latest AS (
                INSERT INTO job_stages (job_id, stage, state, attempt, artifacts, started_at, finished_at, duration_ms, error_code, error_message)
                SELECT j.id, \(stage), \(state.rawValue), j.attempt, \(artifactsJSON), \(started), j.finished, j.ms, \(error?.code), \(error?.message) FROM j
                ON CONFLICT (job_id, stage) DO UPDATE SET
                    state = excluded.state, attempt = excluded.attempt, artifacts = excluded.artifacts,
                    started_at = excluded.started_at, finished_at = excluded.finished_at,
                    duration_ms = excluded.duration_ms, error_code = excluded.error_code, error_message = excluded.error_message
            ),
            run AS (
                INSERT INTO job_stage_runs (job_id, attempt, lease_token, stage, state, started_at, finished_at, duration_ms, error_code, error_message)
                SELECT j.id, j.attempt, \(lease.token), \(stage), \(state.rawValue), \(started), j.finished, j.ms, \(error?.code), \(error?.message) FROM j
                ON CONFLICT (job_id, lease_token, stage) DO UPDATE SET
                    state = excluded.state, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
                    error_code = excluded.error_code, error_message = excluded.error_message
            )
            SELECT id FROM j
            """)
        guard row != nil else { throw try await leaseLost(lease) }
    }

    // MARK: - Ending an attempt

    /// Ends the attempt row of `lease` with `outcome`, and closes any stage it left running.
    static func finishAttempt(_ tx: PGTransaction, _ lease: Lease, outcome: AttemptOutcome, stage: String?, error: JobFailure?, now: Date) async throws {
        try await tx.run("""
            UPDATE job_attempts SET finished_at = \(now), outcome = \(outcome.rawValue), stage = \(stage),
                   error_code = \(error?.code), error_message = \(error?.message)
             WHERE job_id = \(lease.jobID) AND lease_token = \(lease.token)
            """)
        guard outcome != .succeeded else { return }
        let code = error?.code ?? (outcome == .cancelled ? "job.cancelled" : "attempt.ended")
        let message = error?.message ?? "the attempt ended (\(outcome.rawValue)) while this stage ran"
        try await tx.run("""
            UPDATE job_stage_runs SET state = 'failed', finished_at = \(now),
                   duration_ms = round(extract(epoch FROM (\(now)::timestamptz - started_at)) * 1000)::bigint,
                   error_code = \(code), error_message = \(message)
             WHERE job_id = \(lease.jobID) AND lease_token = \(lease.token) AND state = 'running'
            """)
        try await tx.run("""
            UPDATE job_stages SET state = 'failed', finished_at = \(now),
                   duration_ms = round(extract(epoch FROM (\(now)::timestamptz - started_at)) * 1000)::bigint,
                   error_code = \(code), error_message = \(message)
             WHERE job_id = \(lease.jobID) AND state = 'running'
            """)
    }

    /// Moves a job to a finished state and clears its lease. A job that succeeds has no last error.
    static func finish(_ tx: PGTransaction, jobID: Int64, state: JobState, error: JobFailure?, now: Date) async throws -> Job {
        guard let row = try await tx.queryOne("""
            UPDATE jobs SET state = \(state.rawValue), lease_owner = NULL, lease_expires_at = NULL, finished_at = \(now), updated_at = \(now),
                   last_error_code = CASE WHEN \(state.rawValue) = 'succeeded' THEN NULL ELSE coalesce(\(error?.code), last_error_code) END,
                   last_error_message = CASE WHEN \(state.rawValue) = 'succeeded' THEN NULL ELSE coalesce(\(error?.message), last_error_message) END
             WHERE id = \(jobID)
            RETURNING *
            """) else { throw JobStoreError.notFound(jobID) }
        return try job(row)
    }

    /// Queues a job again at `runAt`, clearing its lease; `refund` gives back the attempt.
    static func requeue(_ tx: PGTransaction, jobID: Int64, runAt: Date, refund: Bool, error: JobFailure?, now: Date) async throws -> Job {
        guard let row = try await tx.queryOne("""
            UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, run_at = \(runAt.roundedToMilliseconds),
                   updated_at = \(now), attempt = attempt - \(refund ? 1 : 0),
                   last_error_code = coalesce(\(error?.code), last_error_code),
                   last_error_message = coalesce(\(error?.message), last_error_message)
             WHERE id = \(jobID)
            RETURNING *
            """) else { throw JobStoreError.notFound(jobID) }
        return try job(row)
    }

    /// One statement: the fenced update of the job (no row when the lease was lost) and its attempt's end.
    public func complete(_ lease: Lease) async throws -> Job {
        var q: PostgresQuery = """
            WITH t AS (SELECT coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())) AS now),
            """
        q.sql += Self.completionCTEs(&q, [lease]) + "\nSELECT * FROM done"
        guard let row = try await pool.queryOne(q) else { throw try await leaseLost(lease) }
        return try Self.job(row)
    }

    /// Completes and leases the next job in one statement (``leaseQuery(worker:channels:kind:pipeline:seconds:only:now:completing:pick:window:)``):
    /// one round trip and one commit. Should the statement fail, the job is completed alone. Had
    /// the server committed before the connection dropped, that completion is refused with the job
    /// `succeeded` under this lease's token: the job is done, and whether the next one was leased
    /// is unknown (``Completion/nextUnknown``; the worker asks ``leases(heldBy:)``).
    ///
    /// Called on the store's ``bookkeepingExecutor`` (as a worker's slots call it), completions
    /// asked for together with the same request share one statement (``CompletionGroups``): each
    /// keeps its own outcome, its fence checked on its own row.
    public func complete(_ lease: Lease, thenLease next: LeaseRequest?) async throws -> Completion {
        guard let next, next.channels?.isEmpty != true,
              (try? Timestamp.checked(approximateNow.addingTimeInterval(next.duration.seconds), "a lease")) != nil
        else { return Completion(job: try await complete(lease), next: nil) }
        guard completions.isOnThread else {
            return try await completeTogether([lease], thenLease: next)[0].get()
        }
        return try await withCheckedThrowingContinuation { continuation in
            if completions.add(CompletionGroups.Entry(lease: lease, next: next, continuation: continuation)) {
                // The group runs once the completions that are ready on the thread now have joined
                // it: this task goes to the back of the thread's queue, behind them.
                Task(executorPreference: completions.thread) { await self.flushCompletions() }
            }
        }
    }

    /// Runs the completions waiting in ``completions``: one statement for each lease request.
    func flushCompletions() async {
        let groups = completions.take()
        await withTaskGroup(of: Void.self) { tasks in
            for group in groups {
                tasks.addTask {
                    let results = await self.completeTogether(group.map(\.lease), thenLease: group[0].next)
                    for (entry, result) in zip(group, results) { entry.continuation.resume(with: result) }
                }
            }
        }
    }

    /// Completes `leases` and leases as many next jobs as completions held, in one statement;
    /// each lease's own outcome, in order.
    func completeTogether(_ leases: [Lease], thenLease next: LeaseRequest) async -> [Result<Completion, any Error>] {
        let q = Self.leaseQuery(worker: next.worker, channels: next.channels, kind: next.kind, pipeline: next.pipeline,
                                seconds: next.duration.seconds, only: nil, now: nowBind, completing: leases,
                                window: leaseWindow.withLock { $0 })
        var results: [Result<Completion, any Error>] = []
        let rows: [PGRow]
        do {
            rows = try await pool.query(q)
        } catch {
            for lease in leases { results.append(await completeAfterNoAnswer(lease)) }
            return results
        }
        // A completed row keeps the token it was completed under: each is credited once, to the
        // lease of that job and token (the same job twice in a group, one lease stale, or one
        // lease twice: one completes, the other is refused).
        var done: [CompletedKey: Job] = [:], leased: [Lease] = []
        do {
            for row in rows {
                let job = try Self.job(row)
                if try row.required("ytauto_row", row.string) == "done" {
                    done[CompletedKey(jobID: job.id, token: job.leaseToken)] = job
                } else {
                    leased.append(try Self.lease(row, worker: next.worker))
                }
            }
        } catch {
            return leases.map { _ in .failure(error) }
        }
        // The window held fewer jobs to lease than completions held: the rest from the lanes, a
        // statement each (LeasePick), so a completion still hands its slot on when a job is due.
        var nextInDoubt = false
        if LeasePick.first(channels: next.channels) == .window, leased.count < done.count {
            let lanes = Self.leaseQuery(worker: next.worker, channels: next.channels, kind: next.kind, pipeline: next.pipeline,
                                        seconds: next.duration.seconds, only: nil, now: nowBind, pick: .lanes)
            for _ in leased.count..<done.count {
                do {
                    guard let lease = try await leaseOnce(lanes, worker: next.worker) else { break }
                    leased.append(lease)
                } catch {
                    // The completions stand; whether a job was leased is unknown (the answer may
                    // have been lost after the commit): the worker asks what it holds.
                    nextInDoubt = true
                    break
                }
            }
        }
        for lease in leases {
            if let job = done.removeValue(forKey: CompletedKey(jobID: lease.jobID, token: lease.token)) {
                // The statement leased at most as many jobs as completions held: one each, in order.
                results.append(.success(leased.isEmpty ? Completion(job: job, next: nil, nextUnknown: nextInDoubt)
                                                       : Completion(job: job, next: leased.removeFirst())))
            } else {
                do { results.append(.failure(try await leaseLost(lease))) } catch { results.append(.failure(error)) }
            }
        }
        return results
    }

    /// A job completed under a lease's token (``completeTogether(_:thenLease:)``).
    struct CompletedKey: Hashable {
        let jobID: Int64
        let token: Int64
    }

    /// A completion-and-lease statement got no answer. If it did not commit, the completion alone
    /// does the job (and nothing was leased: the lease part needs the completion's row).
    func completeAfterNoAnswer(_ lease: Lease) async -> Result<Completion, any Error> {
        do {
            return .success(Completion(job: try await complete(lease), next: nil))
        } catch let lost as LeaseLost where lost.currentState == .succeeded && lost.currentToken == lease.token {
            // It committed: only this lease's completion makes the job succeed under this token
            // (any other lease would have bumped it). The job is done; the next may be leased.
            do {
                guard let job = try await job(id: lease.jobID) else {
                    throw PostgresStoreError("job \(lease.jobID) was completed, but it could not be read back")
                }
                return .success(Completion(job: job, next: nil, nextUnknown: true))
            } catch {
                return .failure(error)
            }
        } catch {
            return .failure(error)
        }
    }

    /// The completion's CTEs after `t` (the statement's time): `done`, the fenced update of each
    /// job (no row for a lease that was lost), and `ended`, their attempts' ends. Binds are
    /// appended to `q`.
    static func completionCTEs(_ q: inout PostgresQuery, _ leases: [Lease]) -> String {
        let ids = q.binds.count + 1, tokens = ids + 1, owners = ids + 2
        q.binds.append(leases.map(\.jobID))
        q.binds.append(leases.map(\.token))
        q.binds.append(leases.map(\.owner))
        return """

            done AS (
                UPDATE jobs SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = t.now, updated_at = t.now,
                       last_error_code = NULL, last_error_message = NULL
                  FROM t, unnest($\(ids)::bigint[], $\(tokens)::bigint[], $\(owners)::text[]) AS held (id, token, owner)
                 WHERE jobs.id = ANY ($\(ids)::bigint[]) AND jobs.id = held.id AND jobs.state = 'running'
                   AND jobs.lease_token = held.token AND jobs.lease_owner = held.owner
                RETURNING jobs.*
            ),
            ended AS (
                UPDATE job_attempts SET finished_at = t.now, outcome = 'succeeded', stage = done.current_stage, error_code = NULL, error_message = NULL
                  FROM t, done
                 WHERE job_attempts.job_id = done.id AND job_attempts.lease_token = done.lease_token
            )
            """
    }

    public func fail(_ lease: Lease, error: JobFailure) async throws -> Job {
        let policy = retryPolicy
        return signalIfQueued(try await pool.transaction { tx in
            let job = try await Self.requireLease(tx, lease)
            let now = try await self.now(tx)
            switch JobRules.afterFailure(of: job, error: error, policy: policy, now: now) {
            case .cancelled:
                try await Self.finishAttempt(tx, lease, outcome: .cancelled, stage: job.currentStage, error: error, now: now)
                return try await Self.finish(tx, jobID: job.id, state: .cancelled, error: error, now: now)
            case .retry(let runAt, let refund):
                try await Self.finishAttempt(tx, lease, outcome: .retrying, stage: job.currentStage, error: error, now: now)
                return try await Self.requeue(tx, jobID: job.id, runAt: runAt, refund: refund, error: error, now: now)
            case .failed:
                try await Self.finishAttempt(tx, lease, outcome: .failed, stage: job.currentStage, error: error, now: now)
                return try await Self.finish(tx, jobID: job.id, state: .failed, error: error, now: now)
            }
        })
    }

    /// Wakes this process's idle workers when `job` is queued again (other processes hear the trigger's NOTIFY).
    @discardableResult
    func signalIfQueued(_ job: Job) -> Job {
        if job.state == .queued { signal.bump() }
        return job
    }

    public func handBack(_ lease: Lease, reason: JobFailure) async throws -> Job {
        signalIfQueued(try await pool.transaction { tx in
            let job = try await Self.requireLease(tx, lease)
            let now = try await self.now(tx)
            if job.cancelRequested {
                try await Self.finishAttempt(tx, lease, outcome: .cancelled, stage: job.currentStage, error: nil, now: now)
                return try await Self.finish(tx, jobID: job.id, state: .cancelled, error: nil, now: now)
            }
            try await Self.finishAttempt(tx, lease, outcome: .handedBack, stage: job.currentStage, error: reason, now: now)
            return try await Self.requeue(tx, jobID: job.id, runAt: now, refund: true, error: nil, now: now)
        })
    }

    public func markCancelled(_ lease: Lease) async throws -> Job {
        try await pool.transaction { tx in
            let job = try await Self.requireLease(tx, lease)
            let now = try await self.now(tx)
            try await Self.finishAttempt(tx, lease, outcome: .cancelled, stage: job.currentStage, error: nil, now: now)
            return try await Self.finish(tx, jobID: job.id, state: .cancelled, error: nil, now: now)
        }
    }
}
