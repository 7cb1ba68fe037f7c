import Foundation
import YTAutoCore

extension SQLiteJobStore {
    public func cancel(jobID: Int64) async throws -> CancelResult {
        let now = self.now()
        return try await database.write { db in
            guard let row = try db.queryOne(SQL.jobByID, [jobID]) else {
                throw JobStoreError.notFound(jobID)
            }
            let job = try Self.job(row)
            switch job.state {
            case .queued, .review:
                _ = try Self.finish(db, jobID: jobID, state: .cancelled, error: nil, now: now)
                return .cancelled
            case .running:
                try db.run(SQL.requestCancel, [now, jobID])
                return .requested
            case .succeeded, .failed, .cancelled:
                return .alreadyFinished(job.state)
            }
        }
    }

    public func retry(jobID: Int64) async throws -> Job {
        guard let job = try await retry(jobID: jobID, unchangedSince: nil) else { throw JobStoreError.notFound(jobID) }
        return job
    }

    public func retry(jobID: Int64, ifUnchangedSince updatedAt: Date) async throws -> Job? {
        try await retry(jobID: jobID, unchangedSince: updatedAt)
    }

    private func retry(jobID: Int64, unchangedSince updatedAt: Date?) async throws -> Job? {
        let now = self.now()
        let job: Job? = try await database.write { db in
            guard let row = try db.queryOne(SQL.jobByID, [jobID]) else {
                throw JobStoreError.notFound(jobID)
            }
            let current = try Self.job(row)
            if let updatedAt, current.updatedAt != updatedAt { return nil }
            guard current.state == .failed || current.state == .cancelled else {
                throw JobStoreError.invalidState(jobID: jobID, state: current.state, action: "retry: only failed or cancelled jobs are retried")
            }
            guard let updated = try db.queryOne(SQL.retryJob, [now, jobID]) else {
                throw JobStoreError.notFound(jobID)
            }
            return try Self.job(updated)
        }
        return job.map(signalIfQueued)
    }

    public func redo(jobID: Int64, from stage: String) async throws -> Job {
        let stages = try JobRules.stagesToRedo(from: stage)
        let now = self.now()
        let job = try await database.write { db in
            guard let row = try db.queryOne(SQL.jobByID, [jobID]) else { throw JobStoreError.notFound(jobID) }
            let state = try Self.job(row).state
            let video = try db.queryOne("SELECT json_extract(notes, '$.video_id') AS video FROM job_stages WHERE job_id = ? AND stage = 'publish'", [jobID])?
                .string("video")
            if let refusal = JobRules.redoRefusal(jobID: jobID, state: state, publishedVideoID: video) { throw refusal }
            for s in stages { try db.run("DELETE FROM job_stages WHERE job_id = ? AND stage = ?", [jobID, s]) }
            // What is made again is reviewed again.
            try db.run("DELETE FROM job_reviews WHERE job_id = ?", [jobID])
            guard let updated = try db.queryOne(SQL.retryJob, [now, jobID]) else { throw JobStoreError.notFound(jobID) }
            return try Self.job(updated)
        }
        return signalIfQueued(job)
    }

    public func retryAllFailed(channel: String?) async throws -> [Int64] {
        let now = self.now()
        let ids = try await database.write { db in
            // Two statements, as for list-failed: with a channel, only that channel's failed jobs are read.
            let rows = if let channel {
                try db.query(SQL.retryFailedOfChannel, [now, channel])
            } else {
                try db.query(SQL.retryFailed, [now])
            }
            return try rows.map { try StoredRow($0, table: "jobs", name: "a retried job").int("id") }.sorted()
        }
        if !ids.isEmpty { database.signalWork() }
        return ids
    }

    public func listFailed(channel: String?, code: String?, since: Date?, limit: Int) async throws -> [Job] {
        // A statement for each combination rather than `(? IS NULL OR channel = ?)`, so each uses its own index.
        let since = since ?? Timestamp.earliest
        let rows: [Row] = try await database.read { db in
            switch (channel, code) {
            case let (channel?, code?): try db.query(SQL.listFailedOfChannelWithCode, [channel, code, since, limit])
            case let (channel?, nil): try db.query(SQL.listFailedOfChannel, [channel, since, limit])
            case let (nil, code?): try db.query(SQL.listFailedWithCode, [code, since, limit])
            case (nil, nil): try db.query(SQL.listFailed, [since, limit])
            }
        }
        return try rows.map(Self.job)
    }

    public func history(channel: String?, limit: Int) async throws -> [AttemptRecord] {
        let rows: [Row] = try await database.read { db in
            if let channel { return try db.query(SQL.historyOfChannel, [channel, limit]) }
            return try db.query(SQL.history, [limit])
        }
        return try rows.map(Self.attempt)
    }

    /// Every run of every stage of a job, in the order they started.
    public func stageRuns(jobID: Int64) async throws -> [StageRunRecord] {
        try await database.read { db in
            try db.query(SQL.stageRunsOfJob, [jobID]).map { row in
                let r = StoredRow(row, table: "job_stage_runs", name: Self.stageName(row))
                return StageRunRecord(
                    id: try r.int("id"), jobID: try r.int("job_id"), attempt: try r.count("attempt"), leaseToken: try r.int("lease_token"),
                    stage: try r.string("stage"), state: try r.value("state", StageState.self, expected: "a stage state"),
                    startedAt: try r.date("started_at"), finishedAt: try r.optionalDate("finished_at"),
                    durationMS: try r.optionalInt("duration_ms"), errorCode: try r.optionalString("error_code"),
                    errorMessage: try r.optionalString("error_message"))
            }
        }
    }

    public func job(id: Int64) async throws -> Job? {
        try await database.read { db in
            try db.queryOne(SQL.jobByID, [id]).map(Self.job)
        }
    }

    public func stages(jobID: Int64) async throws -> [StageRecord] {
        let rows = try await database.read { db in
            try db.query(SQL.stagesOfJob, [jobID])
        }
        return try rows.map { row in
            let r = StoredRow(row, table: "job_stages", name: Self.stageName(row))
            return StageRecord(
                jobID: try r.int("job_id"), stage: try r.string("stage"),
                state: try r.value("state", StageState.self, expected: "a stage state"),
                attempt: try r.count("attempt"),
                artifacts: try r.json("artifacts", [Artifact].self, expected: "a JSON list of artifacts"),
                startedAt: try r.date("started_at"),
                finishedAt: try r.optionalDate("finished_at"), durationMS: try r.optionalInt("duration_ms"),
                errorCode: try r.optionalString("error_code"), errorMessage: try r.optionalString("error_message"),
                notes: try r.json("notes", [String: String].self, expected: "a JSON object of strings"))
        }
    }

    public func attempts(jobID: Int64) async throws -> [AttemptRecord] {
        try await database.read { db in
            try db.query(SQL.attemptsOfJob, [jobID]).map(Self.attempt)
        }
    }

    public func stats() async throws -> QueueStats {
        let now = self.now()
        return try await database.read { db in
            var counts: [String: [JobState: Int]] = [:]
            for row in try db.query(SQL.jobCounts) {
                let r = StoredRow(row, table: "job_counts", name: "the count of \(row.string("channel") ?? "?") \(row.string("state") ?? "?")")
                counts[try r.string("channel"), default: [:]][try r.value("state", JobState.self, expected: "a job state")] = try r.count("n")
            }
            let oldest = try db.queryOne(SQL.oldestDue, [now]).flatMap { try StoredRow($0, table: "jobs", name: "the oldest due job").optionalDate("t") }
            return QueueStats(counts: counts, oldestDueQueuedAt: oldest)
        }
    }

    public func prune(finishedBefore cutoff: Date, batchSize: Int = 500) async throws -> Int {
        // pruneReturningJobs checks the batch size.
        return try await pruneReturningJobs(finishedBefore: cutoff, batchSize: batchSize).count
    }
}

extension SQLiteJobStore {
    /// Names a stage's row in a ``StoredRowError``: `stage narration of job 7`.
    static func stageName(_ row: Row) -> String {
        "stage \(row.string("stage") ?? "?") of job \(row.string("job_id") ?? "?")"
    }

    /// Running jobs, oldest lease first.
    public func runningJobs() async throws -> [Job] {
        try await database.read { db in
            try db.query(SQL.runningJobs).map(Self.job)
        }
    }

    /// The highest applied migration version.
    public func schemaVersion() async throws -> Int {
        try await database.read { db in
            guard let row = try db.queryOne("SELECT max(version) AS v FROM schema_migrations") else { return 0 }
            return Int(try StoredRow(row, table: "schema_migrations", name: "the latest migration").optionalInt("v") ?? 0)
        }
    }

    /// The start of the attempt now running for each running job, by job id.
    public func runningAttemptStarts() async throws -> [Int64: Date] {
        try await database.read { db in
            var out: [Int64: Date] = [:]
            for row in try db.query("""
                SELECT a.job_id, a.started_at FROM jobs j
                  JOIN job_attempts a ON a.job_id = j.id AND a.lease_token = j.lease_token
                 WHERE j.state = 'running'
                """) {
                let r = StoredRow(row, table: "job_attempts", name: "the running attempt of job \(row.string("job_id") ?? "?")")
                out[try r.int("job_id")] = try r.date("started_at")
            }
            return out
        }
    }
}

extension SQLiteJobStore {
    /// SQLite's `PRAGMA data_version` for this store's connection: it changes when another
    /// connection commits. A worker polls it (a cheap read, no lock) to notice new jobs
    /// without trying to lease, which would take the write lock.
    public func dataVersion() async throws -> Int64 {
        try await database.read { db in try db.queryOne("PRAGMA data_version")?.int("data_version") ?? 0 }
    }

    /// The earliest `run_at` of a queued job of `kind` (of the given channels), due or not.
    public func nextRunAt(channels: [String]?, kind: JobKind = .video) async throws -> Date? {
        let rows: [Row] = try await database.read { db in
            if let channels = try Self.leasableChannels(db, asked: channels) {
                return try channels.compactMap { try db.queryOne(SQL.nextRunOfChannel, [kind.rawValue, $0]) }
            }
            return try db.query(SQL.nextRunAt, [kind.rawValue])
        }
        return try rows.compactMap { try StoredRow($0, table: "jobs", name: "the next queued job").optionalDate("run_at") }.min()
    }
}

extension SQLiteJobStore.SQL {
    /// A cancel request for a running job: `?1` now, `?2` job id.
    public static let requestCancel = "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?"

    /// What queues a failed or cancelled job again. A job with no attempts left gets one more
    /// (as Oban's retry does); its finished stages stay recorded, so it resumes, not restarts.
    /// It becomes due now (`run_at`); when it was first due stays in `scheduled_at`.
    static let retrySet = """
        UPDATE jobs SET state = 'queued', run_at = ?1, updated_at = ?1, finished_at = NULL, cancel_requested = 0,
               max_attempts = max(max_attempts, attempt + 1)
        """

    /// Admin retry of one job: `?1` now, `?2` job id (its state was checked first).
    public static let retryJob = "\(retrySet) WHERE id = ?2 RETURNING \(columns)"

    /// `retry --all-failed`: `?1` now. Returns the ids.
    public static let retryFailed = "\(retrySet) WHERE id IN (SELECT id FROM jobs INDEXED BY jobs_failed WHERE state = 'failed') RETURNING id"

    /// `retry --all-failed --channel`: `?1` now, `?2` channel. Returns the ids.
    public static let retryFailedOfChannel = """
        \(retrySet) WHERE id IN (SELECT id FROM jobs INDEXED BY jobs_failed_channel WHERE state = 'failed' AND channel = ?2) RETURNING id
        """

    /// A job's stages (`?1` job id), in the order they started.
    public static let stagesOfJob = "SELECT * FROM job_stages WHERE job_id = ? ORDER BY started_at, stage"

    /// A job's attempts (`?1` job id), in order.
    public static let attemptsOfJob = "SELECT * FROM job_attempts WHERE job_id = ? ORDER BY attempt, id"

    /// Every run of every stage of a job (`?1` job id), in the order they started.
    public static let stageRunsOfJob = "SELECT * FROM job_stage_runs WHERE job_id = ? ORDER BY started_at, id"

    /// The running jobs, oldest change first.
    public static let runningJobs = "SELECT \(columns) FROM jobs INDEXED BY jobs_running_expiry WHERE state = 'running' ORDER BY updated_at"

    /// Jobs by channel and state, from the counts the triggers of migration 0004 keep.
    public static let jobCounts = "SELECT channel, state, n FROM job_counts WHERE n > 0"

    /// The oldest due queued job (`?1` now): the earliest `run_at` of each kind and channel by an
    /// index seek apiece (channels from `job_counts`), not a scan of the queue. A paused
    /// channel's jobs wait on purpose and are left out (an alert on the age would fire for
    /// every pause).
    public static let oldestDue = """
        SELECT min(t) AS t FROM (
            SELECT (SELECT run_at FROM jobs INDEXED BY jobs_due
                     WHERE state = 'queued' AND kind = k.kind AND channel = c.channel ORDER BY run_at LIMIT 1) AS t
              FROM (SELECT channel FROM job_counts WHERE state = 'queued' AND n > 0
                     AND channel NOT IN (SELECT channel FROM channel_pauses)) AS c,
                   (SELECT 'video' AS kind UNION ALL SELECT 'synthetic') AS k)
         WHERE t <= ?1
        """

    /// The earliest `run_at` of a queued job of a kind (`?1`), over every channel.
    public static let nextRunAt = """
        SELECT min(t) AS run_at FROM (
            SELECT (SELECT run_at FROM jobs INDEXED BY jobs_due
                     WHERE state = 'queued' AND kind = ?1 AND channel = c.channel ORDER BY run_at LIMIT 1) AS t
              FROM (SELECT channel FROM job_counts WHERE state = 'queued' AND n > 0) AS c)
        """

    /// The earliest `run_at` of a queued job of a kind (`?1`) on a channel (`?2`).
    public static let nextRunOfChannel = """
        SELECT run_at FROM jobs INDEXED BY jobs_due WHERE state = 'queued' AND kind = ?1 AND channel = ?2 ORDER BY run_at LIMIT 1
        """

    /// Failed jobs since `?1`, newest first, at most `?2`.
    public static let listFailed = """
        SELECT \(columns) FROM jobs INDEXED BY jobs_failed
         WHERE state = 'failed' AND finished_at >= ?1 ORDER BY finished_at DESC, id DESC LIMIT ?2
        """

    /// The same for one channel (`?1`), since `?2`, at most `?3`.
    public static let listFailedOfChannel = """
        SELECT \(columns) FROM jobs INDEXED BY jobs_failed_channel
         WHERE state = 'failed' AND channel = ?1 AND finished_at >= ?2 ORDER BY finished_at DESC, id DESC LIMIT ?3
        """

    /// Failed jobs whose last error has the code `?1`, since `?2`, at most `?3`.
    public static let listFailedWithCode = """
        SELECT \(columns) FROM jobs INDEXED BY jobs_failed_code
         WHERE state = 'failed' AND last_error_code = ?1 AND finished_at >= ?2 ORDER BY finished_at DESC, id DESC LIMIT ?3
        """

    /// The same for one channel (`?1`), code `?2`, since `?3`, at most `?4`.
    public static let listFailedOfChannelWithCode = """
        SELECT \(columns) FROM jobs INDEXED BY jobs_failed_channel_code
         WHERE state = 'failed' AND channel = ?1 AND last_error_code = ?2 AND finished_at >= ?3
         ORDER BY finished_at DESC, id DESC LIMIT ?4
        """

    /// Deletes up to `?2` jobs that finished before `?1` (any finished state: `finished_at` is set
    /// exactly when a job is finished), with their stages, stage runs and attempts, and returns
    /// what is needed to find their files.
    public static let pruneBatch = """
        DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs INDEXED BY jobs_finished WHERE finished_at IS NOT NULL AND finished_at < ?1 LIMIT ?2)
        RETURNING id, channel, topic, state
        """

    /// Whether a job prune would delete (finished before `?1`) was ever leased.
    public static let prunableRan = """
        SELECT 1 AS ran FROM jobs INDEXED BY jobs_finished WHERE finished_at IS NOT NULL AND finished_at < ?1 AND attempt > 0 LIMIT 1
        """

    /// Attempts, newest first, at most `?1`.
    public static let history = "SELECT * FROM job_attempts INDEXED BY job_attempts_started ORDER BY started_at DESC LIMIT ?1"

    /// Attempts of one channel (`?1`), newest first, at most `?2`.
    public static let historyOfChannel = """
        SELECT * FROM job_attempts INDEXED BY job_attempts_channel_started WHERE channel = ?1 ORDER BY started_at DESC LIMIT ?2
        """

    /// The running jobs of a worker (`?1`): a scan of the running jobs, which are few.
    public static let runningOf = """
        SELECT \(columns) FROM jobs INDEXED BY jobs_running_expiry WHERE state = 'running' AND lease_owner = ?1
        """

    /// Whether any lease expired before `?1`.
    public static let anyExpired = """
        SELECT 1 FROM jobs INDEXED BY jobs_running_expiry WHERE state = 'running' AND lease_expires_at < ?1 LIMIT 1
        """

    /// The jobs whose leases expired before `?1`.
    public static let expired = """
        SELECT \(columns) FROM jobs INDEXED BY jobs_running_expiry WHERE state = 'running' AND lease_expires_at < ?1
        """

    /// The topic's last video job on a channel: `?1` channel, `?2` topic. A diagnostic
    /// (synthetic) job makes no video, so its topic is not used by it.
    public static let topicLastJob = """
        SELECT max(created_at) AS t FROM jobs INDEXED BY jobs_topic WHERE channel = ?1 AND topic = ?2 AND kind = 'video'
        """

    /// The topic's last slot on a channel: `?1` channel, `?2` topic.
    public static let topicLastSlot = """
        SELECT max(decided_at) AS t FROM schedule_slots INDEXED BY schedule_slots_topic WHERE channel = ?1 AND topic = ?2
        """

    /// When the topic's newest pruned job that no slot named was made: `?1` channel, `?2` topic
    /// (`pruned_topic_uses`, kept by a trigger as prune deletes jobs).
    public static let topicLastPruned = """
        SELECT last_used_at AS t FROM pruned_topic_uses WHERE channel = ?1 AND topic = ?2
        """
}
