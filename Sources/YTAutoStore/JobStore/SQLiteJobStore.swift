import Foundation
import YTAutoCore

/// The job store on one SQLite file, shared by every process on the host.
///
/// Each instance owns one connection on its own serial queue (``DatabaseQueue``). Every
/// write is one `BEGIN IMMEDIATE` transaction; every write about a leased job first checks
/// the lease's owner and token under the write lock, so a worker whose lease was taken
/// over changes nothing and gets ``LeaseLost``.
public final class SQLiteJobStore: JobStore {
    public let database: DatabaseQueue
    public let retryPolicy: RetryPolicy
    /// Where worker lock files live: `<database>-workers/`.
    public let lockDirectory: String
    let now: @Sendable () -> Date

    /// Opens the store, creating the file if needed, and migrates it unless told not to.
    /// - Throws: ``SQLiteError`` (naming the file) or ``MigrationError``.
    public init(
        path: String, options: Connection.Options = .init(), retryPolicy: RetryPolicy = .init(),
        migrate: Bool = true, clock: @escaping @Sendable () -> Date = Date.init
    ) throws {
        self.database = try DatabaseQueue(path: path, options: options)
        self.retryPolicy = retryPolicy
        self.lockDirectory = path + "-workers"
        self.now = clock
        if migrate {
            try database.sync { db in _ = try Migrator().migrate(db, now: clock) }
        } else {
            try database.sync { db in
                let m = Migrator()
                try m.check(try m.applied(db))
            }
        }
    }

    static let columns = """
        id, channel, topic, payload, state, priority, run_at, attempt, max_attempts, lease_owner, \
        lease_token, lease_expires_at, cancel_requested, current_stage, unique_key, last_error_code, \
        last_error_message, created_at, updated_at, finished_at, kind, scheduled_at
        """

    /// The statements of the job life cycle, as text. Public so that `ytauto-bench queue` issues
    /// exactly these through raw CSQLite for its ceiling: the two sides cannot drift apart.
    public enum SQL {
        public static let columns = SQLiteJobStore.columns

        /// The lease's `SET` clause: `?1` owner, `?2` lease expiry, `?3` now.
        static let leaseSet = """
            UPDATE jobs
               SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_token = lease_token + 1,
                   lease_expires_at = ?2, updated_at = ?3
            """

        /// The first due job in lease order among the queued jobs that `match` picks, read from `index`
        /// (whose columns end in `priority, run_at, id`), as a CTE `level(priority, run_at, id)` to
        /// select from (`?3` now). A skip scan over priority levels: a level's first entry is its
        /// earliest job, so a level whose first entry is not due has no due job, and the next level is
        /// one seek away. The scan stops at the first level with a due job. An ordered scan with
        /// `run_at <= ?3` as a filter would instead step over every job of a better priority that is
        /// not due yet (a channel's retries backed off for hours, jobs enqueued `--at` a later time):
        /// one step a job, 68–94 ms a lease behind 200,000 of them (docs/benchmarks.md, 2026-12-05;
        /// QueryPlanTests holds a lease behind 20,000 to its step bound).
        static func dueInLeaseOrder(index: String, match: String) -> String {
            """
            WITH RECURSIVE level(priority, run_at, id) AS (
                SELECT priority, run_at, id FROM (SELECT priority, run_at, id FROM jobs INDEXED BY \(index)
                                                   WHERE \(match) ORDER BY priority, run_at, id LIMIT 1)
                UNION ALL
                SELECT next.priority, next.run_at, next.id FROM level JOIN jobs AS next
                    ON next.id = (SELECT id FROM jobs INDEXED BY \(index) WHERE \(match) AND priority > level.priority
                                   ORDER BY priority, run_at, id LIMIT 1)
                 WHERE level.run_at > ?3)
            """
        }

        /// Leases the next due job of a kind, of any channel: `?1` owner, `?2` lease expiry,
        /// `?3` now, `?4` kind. `INDEXED BY` pins the plan to the partial index whose order is the
        /// lease order, so a lease reads one index entry however long the queue: left to itself the
        /// planner may take an index on `state` and sort every queued job (see the plan tests). The
        /// queue's first job, when it is due (the common case, one seek); else the first due job of
        /// a later priority level (``dueInLeaseOrder(index:match:)``: `coalesce` runs its second
        /// argument only when the first is null).
        public static let leaseNext = """
            \(leaseSet)
             WHERE id = coalesce(
                (SELECT CASE WHEN run_at <= ?3 THEN id END FROM jobs INDEXED BY jobs_lease WHERE state = 'queued' AND kind = ?4
                  ORDER BY priority, run_at, id LIMIT 1),
                (\(dueInLeaseOrder(index: "jobs_lease", match: "state = 'queued' AND kind = ?4"))
                 SELECT id FROM level WHERE run_at <= ?3))
            RETURNING \(columns)
            """

        /// The next due job of a kind on one channel (`?1` kind, `?2` channel, `?3` now): a worker
        /// limited to channels asks each (a seek for each priority level up to its first due job,
        /// ``dueInLeaseOrder(index:match:)``) and leases the first in lease order.
        public static let nextOfChannel = """
            \(dueInLeaseOrder(index: "jobs_lease_channel", match: "state = 'queued' AND kind = ?1 AND channel = ?2"))
            SELECT id, priority, run_at FROM level WHERE run_at <= ?3
            """

        /// Leases one job by id if it is still queued and due: `?1`–`?3` as ``leaseNext``, `?4` the id.
        public static let leaseByID = """
            \(leaseSet)
             WHERE id = ?4 AND state = 'queued' AND run_at <= ?3
            RETURNING \(columns)
            """

        /// Leases the job `?4` if it is queued, due or not (``lease(worker:channels:kind:pipeline:duration:only:)``):
        /// a job not yet due is due from now.
        public static let leaseAsked = """
            \(leaseSet), run_at = min(run_at, ?3), scheduled_at = min(scheduled_at, ?3)
             WHERE id = ?4 AND state = 'queued'
            RETURNING \(columns)
            """

        /// channel, topic, payload JSON, priority, run at, max attempts, unique key, created, updated, kind.
        /// `scheduled_at` is the first `run_at`, kept when retries move `run_at`. The id is one more
        /// than any job has had, deleted ones included (`job_id_high`, migration 0012): never reused.
        public static let insertJob = """
            INSERT INTO jobs (id, channel, topic, payload, state, priority, run_at, max_attempts, unique_key, created_at, updated_at,
                              kind, scheduled_at)
            VALUES (max(coalesce((SELECT max(id) FROM jobs), 0), (SELECT high FROM job_id_high WHERE one = 1)) + 1,
                    ?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?5)
            ON CONFLICT (unique_key) DO NOTHING
            RETURNING \(columns)
            """

        /// job id, attempt, lease token, channel, worker, started at, pipeline, lease seconds, due at.
        /// The lease counts as the first heartbeat.
        public static let insertAttempt = """
            INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, pipeline, lease_seconds, heartbeat_at, due_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?6, ?9)
            """

        /// job id, attempt, lease token, stage, state, started, finished, duration ms, error code, error message:
        /// a stage run's row, made when it starts and completed when it ends.
        public static let upsertStageRun = """
            INSERT INTO job_stage_runs (job_id, attempt, lease_token, stage, state, started_at, finished_at, duration_ms, error_code, error_message)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (job_id, lease_token, stage) DO UPDATE SET
                state = excluded.state, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
                error_code = excluded.error_code, error_message = excluded.error_message
            """

        /// now, error code, error message, job id, lease token: closes the stage runs an attempt left open.
        public static let closeStageRuns = """
            UPDATE job_stage_runs SET state = 'failed', finished_at = ?1,
                   duration_ms = CAST(round((julianday(?1) - julianday(started_at)) * 86400000) AS INTEGER),
                   error_code = ?2, error_message = ?3
             WHERE job_id = ?4 AND lease_token = ?5 AND state = 'running'
            """

        /// now, error code, error message, job id: the same for the job's latest stage rows.
        public static let closeStages = """
            UPDATE job_stages SET state = 'failed', finished_at = ?1,
                   duration_ms = CAST(round((julianday(?1) - julianday(started_at)) * 86400000) AS INTEGER),
                   error_code = ?2, error_message = ?3
             WHERE job_id = ?4 AND state = 'running'
            """

        /// Completes a job if `lease` still holds it: `?1` now, `?2` job id, `?3` lease token, `?4` owner.
        /// No row when the lease was lost. A job that succeeds has no last error.
        public static let completeFenced = """
            UPDATE jobs SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = ?1, updated_at = ?1,
                   last_error_code = NULL, last_error_message = NULL
             WHERE id = ?2 AND state = 'running' AND lease_token = ?3 AND lease_owner = ?4
            RETURNING \(columns)
            """

        /// heartbeat time, job id, lease token.
        public static let attemptHeartbeat = "UPDATE job_attempts SET heartbeat_at = ? WHERE job_id = ? AND lease_token = ?"

        /// The job's row (`?1` id): read under the write lock to check a lease, and by `job(id:)`.
        public static let jobByID = "SELECT \(columns) FROM jobs WHERE id = ?"

        /// The job that holds a unique key (`?1`): what a second enqueue with the key returns.
        public static let jobByUniqueKey = "SELECT \(columns) FROM jobs WHERE unique_key = ?"

        /// A heartbeat's renewal: `?1` new expiry, `?2` now, `?3` job id (the lease was checked first).
        public static let extendLease = "UPDATE jobs SET lease_expires_at = ?, updated_at = ? WHERE id = ?"

        /// Queues a job again, clearing its lease: `?1` run at, `?2` now, `?3` 1 to give back the attempt
        /// (else 0), `?4` error code and `?5` message (`NULL` keeps the last error), `?6` job id.
        public static let requeue = """
            UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, run_at = ?, updated_at = ?,
                   attempt = attempt - ?, last_error_code = coalesce(?, last_error_code),
                   last_error_message = coalesce(?, last_error_message)
             WHERE id = ?
            RETURNING \(columns)
            """

        /// job id, stage, state, attempt, artifacts JSON, started, finished, duration ms, error code, error message.
        public static let upsertStage = """
            INSERT INTO job_stages (job_id, stage, state, attempt, artifacts, started_at, finished_at, duration_ms, error_code, error_message)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (job_id, stage) DO UPDATE SET
                state = excluded.state, attempt = excluded.attempt, artifacts = excluded.artifacts,
                started_at = excluded.started_at, finished_at = excluded.finished_at,
                duration_ms = excluded.duration_ms, error_code = excluded.error_code, error_message = excluded.error_message
            """

        /// stage, now, job id.
        public static let setCurrentStage = "UPDATE jobs SET current_stage = ?, updated_at = ? WHERE id = ?"

        /// finished at, outcome, stage, error code, error message, job id, lease token.
        public static let finishAttempt = """
            UPDATE job_attempts SET finished_at = ?, outcome = ?, stage = ?, error_code = ?, error_message = ?
             WHERE job_id = ? AND lease_token = ?
            """

        /// state, finished at, updated at, error code, error message, job id. A job that succeeds
        /// has no last error (its earlier attempts' errors stay in `job_attempts`).
        public static let finishJob = """
            UPDATE jobs SET state = ?1, lease_owner = NULL, lease_expires_at = NULL, finished_at = ?2, updated_at = ?3,
                   last_error_code = CASE WHEN ?1 = 'succeeded' THEN NULL ELSE coalesce(?4, last_error_code) END,
                   last_error_message = CASE WHEN ?1 = 'succeeded' THEN NULL ELSE coalesce(?5, last_error_message) END
             WHERE id = ?6
            RETURNING \(columns)
            """
    }

    /// A job from its row (``columns``).
    /// - Throws: ``StoredRowError`` naming the column and the job, for a value the schema does not allow.
    static func job(_ row: Row) throws -> Job {
        let r = StoredRow(row, table: "jobs", key: "id", as: "job")
        return Job(
            id: try r.int("id"),
            channel: try r.string("channel"),
            topic: try r.optionalString("topic"),
            payload: try r.string("payload"),
            state: try r.value("state", JobState.self, expected: "a job state"),
            priority: try r.count("priority"),
            runAt: try r.date("run_at"),
            attempt: try r.count("attempt"),
            maxAttempts: try r.count("max_attempts"),
            leaseOwner: try r.optionalString("lease_owner"),
            leaseToken: try r.int("lease_token"),
            leaseExpiresAt: try r.optionalDate("lease_expires_at"),
            cancelRequested: try r.int("cancel_requested") != 0,
            currentStage: try r.optionalString("current_stage"),
            uniqueKey: try r.optionalString("unique_key"),
            lastErrorCode: try r.optionalString("last_error_code"),
            lastErrorMessage: try r.optionalString("last_error_message"),
            createdAt: try r.date("created_at"),
            updatedAt: try r.date("updated_at"),
            finishedAt: try r.optionalDate("finished_at"),
            kind: try r.value("kind", JobKind.self, expected: "a job kind"),
            scheduledAt: try r.optionalDate("scheduled_at"))
    }

    /// An attempt from its `job_attempts` row.
    /// - Throws: ``StoredRowError`` naming the column and the attempt.
    static func attempt(_ row: Row) throws -> AttemptRecord {
        let r = StoredRow(row, table: "job_attempts",
                          name: "attempt \(row.string("attempt") ?? "?") of job \(row.string("job_id") ?? "?")")
        return AttemptRecord(
            id: try r.int("id"), jobID: try r.int("job_id"), attempt: try r.count("attempt"),
            leaseToken: try r.int("lease_token"), channel: try r.string("channel"),
            workerID: try r.string("worker_id"), startedAt: try r.date("started_at"),
            finishedAt: try r.optionalDate("finished_at"),
            outcome: try r.optionalValue("outcome", AttemptOutcome.self, expected: "an attempt outcome"),
            stage: try r.optionalString("stage"), errorCode: try r.optionalString("error_code"),
            errorMessage: try r.optionalString("error_message"), pipeline: try r.optionalString("pipeline"),
            leaseSeconds: try r.double("lease_seconds"), heartbeatAt: try r.optionalDate("heartbeat_at"),
            dueAt: try r.optionalDate("due_at"))
    }

    static func payload(topic: String?, options: [String: String]) -> String {
        var object: [String: Any] = ["options": options]
        if let topic { object["topic"] = topic }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: - Enqueue

    public func enqueue(_ new: NewJob) async throws -> EnqueueResult {
        try JobRules.checkNewJob(new)
        let now = self.now()
        let result = try await database.write { db in try Self.insert(db, new, now: now) }
        if result.inserted { database.signalWork() }
        return result
    }

    /// Inserts a job inside the caller's write transaction; with a unique key already taken,
    /// returns the existing job.
    static func insert(_ db: Connection, _ new: NewJob, now: Date) throws -> EnqueueResult {
        let inserted = try db.queryOne(SQL.insertJob,
            [new.channel, new.topic, Self.payload(topic: new.topic, options: new.options), new.priority,
             new.runAt ?? now, new.maxAttempts, new.uniqueKey, now, now, new.kind.rawValue])
        if let inserted { return EnqueueResult(job: try Self.job(inserted), inserted: true) }
        guard let existing = try db.queryOne(SQL.jobByUniqueKey, [new.uniqueKey]) else {
            throw JobStoreError.invalidArgument("enqueue inserted nothing and found no job with key \(new.uniqueKey ?? "nil")")
        }
        return EnqueueResult(job: try Self.job(existing), inserted: false)
    }

    // MARK: - Lease

    public func lease(worker: String, channels: [String]?, kind: JobKind, pipeline: String?, duration: Duration) async throws -> Lease? {
        try await lease(worker: worker, channels: channels, kind: kind, pipeline: pipeline, duration: duration, only: nil)
    }

    /// Leases the next due job of `kind`, or only the job `only` if it is queued, due or not
    /// (`ytauto run-once`, whatever its kind; see ``WorkerStore``).
    public func lease(
        worker: String, channels: [String]?, kind: JobKind = .video, pipeline: String? = nil, duration: Duration, only jobID: Int64?
    ) async throws -> Lease? {
        let now = self.now()
        let expires = try Timestamp.checked(now.addingTimeInterval(duration.seconds), "a lease of \(duration) from now")
        if let channels, channels.isEmpty { return nil }
        let request = LeaseRequest(worker: worker, channels: channels, kind: kind, pipeline: pipeline, duration: duration)
        // New work may wait its turn behind a process this one just woke: fair shares of jobs.
        return try await database.write(waitingTurn: true) { db in
            try Self.lease(db, request, only: jobID, now: now, expires: expires)
        }
    }

    /// Leases inside the caller's write transaction (see ``lease(worker:channels:kind:pipeline:duration:only:)``).
    static func lease(_ db: Connection, _ request: LeaseRequest, only jobID: Int64?, now: Date, expires: Date) throws -> Lease? {
        let worker = request.worker
        let row: Row?
        if let jobID {
            row = try db.queryOne(SQL.leaseAsked, [worker, expires, now, jobID])
        } else if let channels = try Self.leasableChannels(db, asked: request.channels) {
            // Each channel's first due job by an index seek; the first of those in lease order.
            var best: (id: Int64, key: (Int64, String, Int64))? = nil
            for channel in channels {
                guard let row = try db.queryOne(SQL.nextOfChannel, [request.kind.rawValue, channel, now]) else { continue }
                let r = StoredRow(row, table: "jobs", key: "id", as: "job")
                let id = try r.int("id")
                let key = (try r.int("priority"), try r.string("run_at"), id)
                if best == nil || key < best!.key { best = (id, key) }
            }
            guard let best else { return nil }
            row = try db.queryOne(SQL.leaseByID, [worker, expires, now, best.id])
        } else {
            row = try db.queryOne(SQL.leaseNext, [worker, expires, now, request.kind.rawValue])
        }
        guard let row else { return nil }
        let job = try Self.job(row)
        try db.run(SQL.insertAttempt, [job.id, job.attempt, job.leaseToken, job.channel, worker, now, request.pipeline,
                                       request.duration.seconds, AttemptRecord.dueAt(runAt: job.runAt, createdAt: job.createdAt)])
        return Lease(job: job, owner: worker, token: job.leaseToken, expiresAt: expires)
    }

    /// Reads the job's row under the write lock and checks that `lease` is still its lease.
    static func requireLease(_ db: Connection, _ lease: Lease) throws -> Job {
        guard let row = try db.queryOne(SQL.jobByID, [lease.jobID]) else {
            throw LeaseLost(jobID: lease.jobID, token: lease.token, owner: lease.owner, currentState: nil, currentOwner: nil, currentToken: nil)
        }
        let job = try Self.job(row)
        guard job.state == .running, job.leaseToken == lease.token, job.leaseOwner == lease.owner else {
            throw LeaseLost(jobID: lease.jobID, token: lease.token, owner: lease.owner,
                            currentState: job.state, currentOwner: job.leaseOwner, currentToken: job.leaseToken)
        }
        return job
    }

    public func heartbeat(_ lease: Lease, duration: Duration) async throws -> HeartbeatStatus {
        let now = self.now()
        let until = try Timestamp.checked(now.addingTimeInterval(duration.seconds), "a lease of \(duration) from now")
        return try await database.write(wakes: false) { db in
            let job = try Self.requireLease(db, lease)
            try db.run(SQL.extendLease, [until, now, job.id])
            try db.run(SQL.attemptHeartbeat, [now, job.id, lease.token])
            return job.cancelRequested ? .cancelRequested(until: until) : .held(until: until)
        }
    }

    public func checkpoint(
        _ lease: Lease, stage: String, state: StageState, artifacts: [Artifact], startedAt: Date, error: JobFailure?
    ) async throws {
        let now = self.now()
        let artifactsJSON = String(decoding: try JSONEncoder().encode(artifacts), as: UTF8.self)
        let finished: Date? = state == .running ? nil : now
        let durationMS: Int64? = finished.map { Int64(($0.timeIntervalSince(startedAt) * 1000).rounded()) }
        try await database.write(wakes: false) { db in
            let job = try Self.requireLease(db, lease)
            try db.run(SQL.upsertStage,
                [job.id, stage, state.rawValue, job.attempt, artifactsJSON, startedAt, finished, durationMS,
                 error?.code, error?.message])
            try db.run(SQL.upsertStageRun,
                [job.id, job.attempt, lease.token, stage, state.rawValue, startedAt, finished, durationMS,
                 error?.code, error?.message])
            try db.run(SQL.setCurrentStage, [stage, now, job.id])
        }
    }

    // MARK: - Ending an attempt

    /// Ends the attempt row of `lease` with `outcome`, and closes any stage it left running
    /// (its worker died or stopped mid-stage): `failed`, with the attempt's error, so no stage
    /// stays `running` once nothing runs it.
    static func finishAttempt(_ db: Connection, _ lease: Lease, outcome: AttemptOutcome, stage: String?, error: JobFailure?, now: Date) throws {
        try db.run(SQL.finishAttempt, [now, outcome.rawValue, stage, error?.code, error?.message, lease.jobID, lease.token])
        guard outcome != .succeeded else { return }
        let code = error?.code ?? (outcome == .cancelled ? "job.cancelled" : "attempt.ended")
        let message = error?.message ?? "the attempt ended (\(outcome.rawValue)) while this stage ran"
        try db.run(SQL.closeStageRuns, [now, code, message, lease.jobID, lease.token])
        try db.run(SQL.closeStages, [now, code, message, lease.jobID])
    }

    /// Moves a job to a finished state and clears its lease.
    static func finish(_ db: Connection, jobID: Int64, state: JobState, error: JobFailure?, now: Date) throws -> Job {
        guard let row = try db.queryOne(SQL.finishJob, [state.rawValue, now, now, error?.code, error?.message, jobID])
        else { throw JobStoreError.notFound(jobID) }
        return try job(row)
    }

    /// Queues a job again at `runAt`, clearing its lease; `refund` gives back the attempt.
    static func requeue(_ db: Connection, jobID: Int64, runAt: Date, refund: Bool, error: JobFailure?, now: Date) throws -> Job {
        guard let row = try db.queryOne(SQL.requeue, [runAt, now, refund ? 1 : 0, error?.code, error?.message, jobID])
        else { throw JobStoreError.notFound(jobID) }
        return try job(row)
    }

    public func complete(_ lease: Lease) async throws -> Job {
        let now = self.now()
        return try await database.write { db in try Self.complete(db, lease, now: now) }
    }

    /// Completes and leases the next job in one write transaction: the pages both change (the
    /// `job_counts` row, the last leaves of the jobs' and attempts' indexes) go to the WAL once.
    /// Should the lease part fail, the transaction rolls back and the job is completed alone.
    public func complete(_ lease: Lease, thenLease next: LeaseRequest?) async throws -> Completion {
        guard let next, next.channels?.isEmpty != true else { return Completion(job: try await complete(lease), next: nil) }
        let now = self.now()
        let expires = try Timestamp.checked(now.addingTimeInterval(next.duration.seconds), "a lease of \(next.duration) from now")
        do {
            // It leases new work, so it waits its turn as a lease does (fair shares).
            return try await database.write(waitingTurn: true) { db in
                let job = try Self.complete(db, lease, now: now)
                return Completion(job: job, next: try Self.lease(db, next, only: nil, now: now, expires: expires))
            }
        } catch let lost as LeaseLost {
            throw lost
        } catch {
            // Nothing of it was written: complete alone (the worker leases as usual, and logs what fails there).
            return Completion(job: try await complete(lease), next: nil)
        }
    }

    /// Completes inside the caller's write transaction. The fence is in the statement itself:
    /// the job changes only while the lease holds.
    static func complete(_ db: Connection, _ lease: Lease, now: Date) throws -> Job {
        guard let row = try db.queryOne(SQL.completeFenced, [now, lease.jobID, lease.token, lease.owner]) else {
            _ = try Self.requireLease(db, lease)  // throws LeaseLost, saying whose the job is now
            throw LeaseLost(jobID: lease.jobID, token: lease.token, owner: lease.owner, currentState: nil, currentOwner: nil, currentToken: nil)
        }
        let job = try Self.job(row)
        try Self.finishAttempt(db, lease, outcome: .succeeded, stage: job.currentStage, error: nil, now: now)
        return job
    }

    public func fail(_ lease: Lease, error: JobFailure) async throws -> Job {
        let now = self.now()
        let policy = retryPolicy
        return signalIfQueued(try await database.write { db in
            let job = try Self.requireLease(db, lease)
            switch JobRules.afterFailure(of: job, error: error, policy: policy, now: now) {
            case .cancelled:
                try Self.finishAttempt(db, lease, outcome: .cancelled, stage: job.currentStage, error: error, now: now)
                return try Self.finish(db, jobID: job.id, state: .cancelled, error: error, now: now)
            case .retry(let runAt, let refund):
                try Self.finishAttempt(db, lease, outcome: .retrying, stage: job.currentStage, error: error, now: now)
                return try Self.requeue(db, jobID: job.id, runAt: runAt, refund: refund, error: error, now: now)
            case .failed:
                try Self.finishAttempt(db, lease, outcome: .failed, stage: job.currentStage, error: error, now: now)
                return try Self.finish(db, jobID: job.id, state: .failed, error: error, now: now)
            }
        })
    }

    /// Wakes idle workers when `job` is queued again (its due time may be before what they wait for).
    @discardableResult
    func signalIfQueued(_ job: Job) -> Job {
        if job.state == .queued { database.signalWork() }
        return job
    }

    public func handBack(_ lease: Lease, reason: JobFailure) async throws -> Job {
        let now = self.now()
        return signalIfQueued(try await database.write { db in
            let job = try Self.requireLease(db, lease)
            if job.cancelRequested {
                try Self.finishAttempt(db, lease, outcome: .cancelled, stage: job.currentStage, error: nil, now: now)
                return try Self.finish(db, jobID: job.id, state: .cancelled, error: nil, now: now)
            }
            // The reason goes on the attempt only: the job's last error stays the last real failure.
            try Self.finishAttempt(db, lease, outcome: .handedBack, stage: job.currentStage, error: reason, now: now)
            return try Self.requeue(db, jobID: job.id, runAt: now, refund: true, error: nil, now: now)
        })
    }

    public func markCancelled(_ lease: Lease) async throws -> Job {
        let now = self.now()
        return try await database.write { db in
            let job = try Self.requireLease(db, lease)
            try Self.finishAttempt(db, lease, outcome: .cancelled, stage: job.currentStage, error: nil, now: now)
            return try Self.finish(db, jobID: job.id, state: .cancelled, error: nil, now: now)
        }
    }
}

