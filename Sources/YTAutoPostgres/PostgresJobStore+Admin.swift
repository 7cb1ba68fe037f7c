import Foundation
import PostgresNIO
import YTAutoCore

/// What operators do and read: cancel, retry, lists, history, counts, prune.
extension PostgresJobStore {
    public func cancel(jobID: Int64) async throws -> CancelResult {
        try await pool.transaction { tx in
            guard let row = try await tx.queryOne("SELECT * FROM jobs WHERE id = \(jobID) FOR UPDATE") else {
                throw JobStoreError.notFound(jobID)
            }
            let job = try Self.job(row)
            let now = try await self.now(tx)
            switch job.state {
            case .queued, .review:
                _ = try await Self.finish(tx, jobID: jobID, state: .cancelled, error: nil, now: now)
                return .cancelled
            case .running:
                try await tx.run("UPDATE jobs SET cancel_requested = true, updated_at = \(now) WHERE id = \(jobID)")
                return .requested
            case .succeeded, .failed, .cancelled:
                return .alreadyFinished(job.state)
            }
        }
    }

    /// What queues a failed or cancelled job again (as the SQLite store's `retrySet`): a job with no
    /// attempts left gets one more; it becomes due now; its finished stages stay recorded.
    static let retrySet = """
        UPDATE jobs SET state = 'queued', run_at = $1, updated_at = $1, finished_at = NULL, cancel_requested = false,
               max_attempts = greatest(max_attempts, attempt + 1)
        """

    public func retry(jobID: Int64) async throws -> Job {
        guard let job = try await retry(jobID: jobID, unchangedSince: nil) else { throw JobStoreError.notFound(jobID) }
        return job
    }

    public func retry(jobID: Int64, ifUnchangedSince updatedAt: Date) async throws -> Job? {
        try await retry(jobID: jobID, unchangedSince: updatedAt)
    }

    private func retry(jobID: Int64, unchangedSince updatedAt: Date?) async throws -> Job? {
        try await pool.transaction { tx -> Job? in
            let current = try await Self.lockedJob(tx, jobID: jobID)
            if let updatedAt, current.updatedAt != updatedAt { return nil }
            guard current.state == .failed || current.state == .cancelled else {
                throw JobStoreError.invalidState(jobID: jobID, state: current.state, action: "retry: only failed or cancelled jobs are retried")
            }
            return try await self.requeue(tx, jobID: jobID)
        }.map(signalIfQueued)
    }

    public func redo(jobID: Int64, from stage: String) async throws -> Job {
        let stages = try JobRules.stagesToRedo(from: stage)
        return signalIfQueued(try await pool.transaction { tx in
            let state = try await Self.lockedState(tx, jobID: jobID)
            let video = try await tx.queryOne(
                "SELECT notes ->> 'video_id' AS video FROM job_stages WHERE job_id = \(jobID) AND stage = 'publish'")?.string("video")
            if let refusal = JobRules.redoRefusal(jobID: jobID, state: state, publishedVideoID: video) { throw refusal }
            try await tx.run("DELETE FROM job_stages WHERE job_id = \(jobID) AND stage = ANY(\(stages)::text[])")
            // What is made again is reviewed again.
            try await tx.run("DELETE FROM job_reviews WHERE job_id = \(jobID)")
            return try await self.requeue(tx, jobID: jobID)
        })
    }

    /// The job's state, its row locked for the rest of the transaction.
    static func lockedState(_ tx: PGTransaction, jobID: Int64) async throws -> JobState {
        try await lockedJob(tx, jobID: jobID).state
    }

    /// The job, its row locked for the rest of the transaction.
    static func lockedJob(_ tx: PGTransaction, jobID: Int64) async throws -> Job {
        guard let row = try await tx.queryOne("SELECT * FROM jobs WHERE id = \(jobID) FOR UPDATE") else {
            throw JobStoreError.notFound(jobID)
        }
        return try Self.job(row)
    }

    /// Queues the job again, due now (``retrySet``).
    func requeue(_ tx: PGTransaction, jobID: Int64) async throws -> Job {
        var q = PostgresQuery(unsafeSQL: "\(Self.retrySet) WHERE id = $2 RETURNING *")
        q.binds.append(ExactTime(try await now(tx)))
        q.binds.append(jobID)
        guard let updated = try await tx.queryOne(q) else { throw JobStoreError.notFound(jobID) }
        return try Self.job(updated)
    }

    public func retryAllFailed(channel: String?) async throws -> [Int64] {
        let ids = try await pool.transaction { tx in
            let now = try await self.now(tx)
            var q = PostgresQuery(unsafeSQL: """
                \(Self.retrySet) WHERE id IN (SELECT id FROM jobs WHERE state = 'failed' AND ($2::text IS NULL OR channel = $2)
                                              ORDER BY id FOR UPDATE) RETURNING id
                """)
            q.binds.append(ExactTime(now))
            q.binds.append(channel)
            return try await tx.query(q).map { try $0.required("id", $0.int) }.sorted()
        }
        if !ids.isEmpty { signal.bump() }
        return ids
    }

    /// The channel's failed jobs, or every channel's, newest first; of one error code if given.
    ///
    /// Of one channel: the channel is bounded as a range (`channel >= $1 AND channel <= $1`) and
    /// leads the order, so that only the per-channel index (`jobs_failed_channel`) gives the rows in
    /// order. With `channel = $1` the planner may read every failed job in `jobs_failed`'s order and
    /// filter by channel, guessing the channel's share from the table's statistics: for a channel
    /// with few failures that read all 20,000 failed jobs of the plan test's fixture
    /// (PostgresQueryPlanTests). History by channel is written the same way, and so is the code
    /// (`jobs_failed_code`, `jobs_failed_channel_code`).
    public func listFailed(channel: String?, code: String?, since: Date?, limit: Int) async throws -> [Job] {
        let since = since ?? Timestamp.earliest
        let rows: [PGRow] = switch (channel, code) {
        case let (channel?, code?):
            try await pool.query("""
                SELECT * FROM jobs WHERE state = 'failed' AND channel >= \(channel) AND channel <= \(channel)
                   AND last_error_code >= \(code) AND last_error_code <= \(code) AND finished_at >= \(since)
                 ORDER BY channel DESC, last_error_code DESC, finished_at DESC, id DESC LIMIT \(limit)
                """)
        case let (channel?, nil):
            try await pool.query("""
                SELECT * FROM jobs WHERE state = 'failed' AND channel >= \(channel) AND channel <= \(channel) AND finished_at >= \(since)
                 ORDER BY channel DESC, finished_at DESC, id DESC LIMIT \(limit)
                """)
        case let (nil, code?):
            try await pool.query("""
                SELECT * FROM jobs WHERE state = 'failed' AND last_error_code >= \(code) AND last_error_code <= \(code)
                   AND finished_at >= \(since)
                 ORDER BY last_error_code DESC, finished_at DESC, id DESC LIMIT \(limit)
                """)
        case (nil, nil):
            try await pool.query("SELECT * FROM jobs WHERE state = 'failed' AND finished_at >= \(since) ORDER BY finished_at DESC, id DESC LIMIT \(limit)")
        }
        return try rows.map(Self.job)
    }

    public func history(channel: String?, limit: Int) async throws -> [AttemptRecord] {
        let rows: [PGRow] = if let channel {
            try await pool.query("""
                SELECT * FROM job_attempts WHERE channel >= \(channel) AND channel <= \(channel)
                 ORDER BY channel DESC, started_at DESC, id DESC LIMIT \(limit)
                """)
        } else {
            try await pool.query("SELECT * FROM job_attempts ORDER BY started_at DESC, id DESC LIMIT \(limit)")
        }
        return try rows.map(Self.attempt)
    }

    /// Every run of every stage of a job, in the order they started.
    public func stageRuns(jobID: Int64) async throws -> [StageRunRecord] {
        try await pool.query("SELECT * FROM job_stage_runs WHERE job_id = \(jobID) ORDER BY started_at, id").map(Self.stageRun)
    }

    static func stageRun(_ r: PGRow) throws -> StageRunRecord {
        StageRunRecord(
            id: try r.required("id", r.int), jobID: try r.required("job_id", r.int), attempt: Int(try r.required("attempt", r.int)),
            leaseToken: try r.required("lease_token", r.int), stage: try r.required("stage", r.string),
            state: try Self.stageState(r), startedAt: try r.required("started_at", r.date), finishedAt: try r.date("finished_at"),
            durationMS: try r.int("duration_ms"), errorCode: try r.string("error_code"), errorMessage: try r.string("error_message"))
    }

    public func job(id: Int64) async throws -> Job? {
        try await pool.queryOne("SELECT * FROM jobs WHERE id = \(id)").map(Self.job)
    }

    public func stages(jobID: Int64) async throws -> [StageRecord] {
        try await stageRecords("job_id = \(jobID)")
    }

    /// The stage rows `condition` (SQL on `job_stages`, built from numbers only) selects, by job, in the order they started.
    func stageRecords(_ condition: String) async throws -> [StageRecord] {
        try await pool.query(PostgresQuery(unsafeSQL: """
            SELECT job_id, stage, state, attempt, artifacts, started_at, finished_at, duration_ms, error_code, error_message,
                   notes::text AS notes
              FROM job_stages WHERE \(condition) ORDER BY job_id, started_at, stage
            """)).map { r in
            let jobID = try r.required("job_id", r.int)
            let artifactsText = try r.required("artifacts", r.string)
            guard let artifacts = try? JSONDecoder().decode([Artifact].self, from: Data(artifactsText.utf8)) else {
                throw StoredRowError(table: "job_stages", row: "a stage of job \(jobID)", column: "artifacts", found: "other JSON", expected: "a list of artifacts")
            }
            let notesText = try r.required("notes", r.string)
            guard let notes = try? JSONDecoder().decode([String: String].self, from: Data(notesText.utf8)) else {
                throw StoredRowError(table: "job_stages", row: "a stage of job \(jobID)", column: "notes", found: "other JSON", expected: "notes (an object of text)")
            }
            return StageRecord(
                jobID: jobID, stage: try r.required("stage", r.string), state: try Self.stageState(r),
                attempt: Int(try r.required("attempt", r.int)), artifacts: artifacts, startedAt: try r.required("started_at", r.date),
                finishedAt: try r.date("finished_at"), durationMS: try r.int("duration_ms"),
                errorCode: try r.string("error_code"), errorMessage: try r.string("error_message"), notes: notes)
        }
    }

    public func attempts(jobID: Int64) async throws -> [AttemptRecord] {
        try await pool.query("SELECT * FROM job_attempts WHERE job_id = \(jobID) ORDER BY attempt, id").map(Self.attempt)
    }

    public func stats() async throws -> QueueStats {
        var counts: [String: [JobState: Int]] = [:]
        for r in try await pool.query("SELECT channel, state, sum(n)::bigint AS n FROM job_counts GROUP BY channel, state HAVING sum(n) > 0") {
            let stateText = try r.required("state", r.string)
            guard let state = JobState(rawValue: stateText) else { throw PostgresStoreError("job_counts holds the state '\(stateText)'") }
            counts[try r.required("channel", r.string), default: [:]][state] = Int(try r.required("n", r.int))
        }
        // The oldest due job: the earliest run_at of each kind and channel by an index seek apiece;
        // a paused channel's jobs wait on purpose and are left out.
        let oldest = try await pool.queryOne("""
            SELECT min(t) AS t FROM (
                SELECT (SELECT run_at FROM jobs WHERE state = 'queued' AND kind = k.kind AND channel = c.channel ORDER BY run_at LIMIT 1) AS t
                  FROM (SELECT channel FROM job_counts WHERE state = 'queued'
                         AND channel NOT IN (SELECT channel FROM channel_pauses) GROUP BY channel HAVING sum(n) > 0) AS c,
                       (VALUES ('video'), ('synthetic')) AS k (kind)) AS firsts
             WHERE t <= coalesce(\(nowBind)::timestamptz, now())
            """)?.date("t")
        return QueueStats(counts: counts, oldestDueQueuedAt: oldest)
    }

    public func prune(finishedBefore cutoff: Date, batchSize: Int = 500) async throws -> Int {
        try await pruneReturningJobs(finishedBefore: cutoff, batchSize: batchSize).count
    }

    /// Deletes finished jobs (with their stages, stage runs and attempts) that finished before
    /// `cutoff`, `batchSize` a transaction, and returns them so the caller can remove their files.
    public func pruneReturningJobs(finishedBefore cutoff: Date, batchSize: Int = 500) async throws -> [PrunedJob] {
        guard batchSize > 0 else { throw JobStoreError.invalidArgument("prune batch size must be positive") }
        var all: [PrunedJob] = []
        while true {
            let deleted = try await pool.query("""
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < \(cutoff)
                     ORDER BY finished_at LIMIT \(batchSize) FOR UPDATE SKIP LOCKED)
                RETURNING id, channel, topic, state
                """).map { r in
                let stateText = try r.required("state", r.string)
                guard let state = JobState(rawValue: stateText) else { throw r.corrupt("state", found: "'\(stateText)'", expected: "a job state") }
                return PrunedJob(id: try r.required("id", r.int), channel: try r.required("channel", r.string),
                                 topic: try r.string("topic"), state: state)
            }
            all += deleted
            if deleted.count < batchSize { return all.sorted { $0.id < $1.id } }
        }
    }

    public func prunableJobsRan(finishedBefore cutoff: Date) async throws -> Bool {
        try await pool.queryOne("""
            SELECT 1 AS ran FROM jobs WHERE finished_at IS NOT NULL AND finished_at < \(cutoff) AND attempt > 0 LIMIT 1
            """) != nil
    }

    /// Running jobs, oldest change first.
    public func runningJobs() async throws -> [Job] {
        try await pool.query("SELECT * FROM jobs WHERE state = 'running' ORDER BY updated_at").map(Self.job)
    }

    /// The highest applied migration version.
    public func schemaVersion() async throws -> Int {
        Int(try await pool.queryOne("SELECT coalesce(max(version), 0)::bigint AS v FROM schema_migrations")?.int("v") ?? 0)
    }

    /// The start of the attempt now running for each running job, by job id.
    public func runningAttemptStarts() async throws -> [Int64: Date] {
        var out: [Int64: Date] = [:]
        for r in try await pool.query("""
            SELECT a.job_id, a.started_at FROM jobs j
              JOIN job_attempts a ON a.job_id = j.id AND a.lease_token = j.lease_token
             WHERE j.state = 'running'
            """) {
            out[try r.required("job_id", r.int)] = try r.required("started_at", r.date)
        }
        return out
    }

    /// The earliest `run_at` of a queued job of `kind` (of the given channels), due or not.
    public func nextRunAt(channels: [String]?, kind: JobKind = .video) async throws -> Date? {
        if let channels, channels.isEmpty { return nil }
        return try await pool.queryOne(Self.nextRunAtQuery(channels: channels, kind: kind))?.date("run_at")
    }

    /// ``nextRunAt(channels:kind:)``'s statement, apart so that its plan can be tested
    /// (PostgresQueryPlanTests): one index probe a channel that has queued jobs.
    static func nextRunAtQuery(channels: [String]?, kind: JobKind) -> PostgresQuery {
        if let channels {
            return """
                SELECT min(t) AS run_at FROM (
                    SELECT (SELECT run_at FROM jobs WHERE state = 'queued' AND kind = \(kind.rawValue) AND channel = c.channel
                             ORDER BY run_at LIMIT 1) AS t
                      FROM unnest(\(Array(Set(channels)).sorted())::text[]) AS c (channel)
                     WHERE c.channel NOT IN (SELECT channel FROM channel_pauses)) AS firsts
                """
        }
        return """
            SELECT min(t) AS run_at FROM (
                SELECT (SELECT run_at FROM jobs WHERE state = 'queued' AND kind = \(kind.rawValue) AND channel = c.channel
                         ORDER BY run_at LIMIT 1) AS t
                  FROM (SELECT channel FROM job_counts WHERE state = 'queued' GROUP BY channel HAVING sum(n) > 0
                        EXCEPT SELECT channel FROM channel_pauses) AS c) AS firsts
            """
    }

    /// Changes when this process may have new work: a notification, a reconnection, its own signal.
    public func dataVersion() async throws -> Int64 { Int64(truncatingIfNeeded: signal.sequence) }
}

/// Stage notes and the quota ledger.
extension PostgresJobStore: QuotaLedger {
    /// Merges `notes` into the stage's recorded notes, in one write fenced by the lease.
    public func saveStageNotes(_ lease: Lease, stage: String, notes: [String: String]) async throws {
        let json = String(decoding: try JSONEncoder().encode(notes), as: UTF8.self)
        try await pool.transaction { tx in
            let job = try await Self.requireLease(tx, lease)
            let now = try await self.now(tx)
            try await tx.run("""
                INSERT INTO job_stages (job_id, stage, state, attempt, started_at, notes)
                VALUES (\(job.id), \(stage), 'running', \(job.attempt), \(now), \(json)::jsonb)
                ON CONFLICT (job_id, stage) DO UPDATE SET notes = job_stages.notes || excluded.notes
                """)
        }
    }

    public func markStagesStale(_ lease: Lease, stages: [String], because: String) async throws {
        try await pool.transaction { tx in
            let job = try await Self.requireLease(tx, lease)
            try await tx.run("""
                UPDATE job_stages SET state = 'failed', attempt = \(job.attempt), error_code = \(JobRules.staleStageCode),
                       error_message = \(because)
                 WHERE job_id = \(job.id) AND stage = ANY(\(stages)::text[])
                """)
        }
    }

    /// The lock that serialises reservations of one provider's unit on one day (any channel).
    static func quotaLock(_ tx: PGTransaction, provider: String, unit: String, day: String) async throws {
        try await tx.run("SELECT pg_advisory_xact_lock(hashtextextended(\("ytauto-quota:\(provider):\(unit):\(day)"), 0))")
    }

    public func record(provider: String, channel: String, unit: String, amount: Int, day: String) async throws {
        guard amount > 0 else { return }
        try await pool.transaction { tx in
            let now = try await self.now(tx)
            try await tx.run("""
                INSERT INTO quota_ledger (day, provider, channel, unit, amount, updated_at) VALUES (\(day), \(provider), \(channel), \(unit), \(amount), \(now))
                ON CONFLICT (day, provider, channel, unit) DO UPDATE SET amount = quota_ledger.amount + excluded.amount, updated_at = excluded.updated_at
                """)
        }
    }

    public func reserve(provider: String, channel: String, unit: String, amount: Int, limit: Int, day: String) async throws -> Bool {
        try await pool.transaction { tx in
            try await Self.quotaLock(tx, provider: provider, unit: unit, day: day)
            let used = try await tx.queryOne("""
                SELECT coalesce(sum(amount), 0)::bigint AS used FROM quota_ledger WHERE day = \(day) AND provider = \(provider) AND unit = \(unit)
                """)?.int("used") ?? 0
            guard used + Int64(amount) <= Int64(limit) else { return false }
            let now = try await self.now(tx)
            try await tx.run("""
                INSERT INTO quota_ledger (day, provider, channel, unit, amount, updated_at) VALUES (\(day), \(provider), \(channel), \(unit), \(amount), \(now))
                ON CONFLICT (day, provider, channel, unit) DO UPDATE SET amount = quota_ledger.amount + excluded.amount, updated_at = excluded.updated_at
                """)
            return true
        }
    }

    public func used(provider: String, unit: String, day: String) async throws -> Int {
        Int(try await pool.queryOne("""
            SELECT coalesce(sum(amount), 0)::bigint AS used FROM quota_ledger WHERE day = \(day) AND provider = \(provider) AND unit = \(unit)
            """)?.int("used") ?? 0)
    }

    /// Gives back part of a reservation; a row left at zero is removed.
    public func release(provider: String, channel: String, unit: String, amount: Int, day: String) async throws {
        guard amount > 0 else { return }
        try await pool.transaction { tx in
            try await Self.quotaLock(tx, provider: provider, unit: unit, day: day)
            let now = try await self.now(tx)
            try await tx.run("""
                UPDATE quota_ledger SET amount = greatest(0, amount - \(amount)), updated_at = \(now)
                 WHERE day = \(day) AND provider = \(provider) AND channel = \(channel) AND unit = \(unit)
                """)
            try await tx.run("""
                DELETE FROM quota_ledger WHERE day = \(day) AND provider = \(provider) AND channel = \(channel) AND unit = \(unit) AND amount = 0
                """)
        }
    }

    /// The ledger's rows since `day` (inclusive), newest day first.
    public func ledger(since day: String) async throws -> [LedgerEntry] {
        try await pool.query("SELECT * FROM quota_ledger WHERE day >= \(day) ORDER BY day DESC, provider, channel, unit").map { r in
            LedgerEntry(day: try r.required("day", r.string), provider: try r.required("provider", r.string),
                        channel: try r.required("channel", r.string), unit: try r.required("unit", r.string),
                        amount: try r.required("amount", r.int))
        }
    }
}
