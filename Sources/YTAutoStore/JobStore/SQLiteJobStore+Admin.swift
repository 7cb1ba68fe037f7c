import Foundation
import YTAutoCore

extension SQLiteJobStore {
    public func cancel(jobID: Int64) async throws -> CancelResult {
        let now = self.now()
        return try await database.write { db in
            guard let row = try db.queryOne("SELECT \(Self.columns) FROM jobs WHERE id = ?", [jobID]) else {
                throw JobStoreError.notFound(jobID)
            }
            let job = Self.job(row)
            switch job.state {
            case .queued:
                _ = try Self.finish(db, jobID: jobID, state: .cancelled, error: nil, now: now)
                return .cancelled
            case .running:
                try db.run("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", [now, jobID])
                return .requested
            case .succeeded, .failed, .cancelled:
                return .alreadyFinished(job.state)
            }
        }
    }

    /// SQL that queues failed or cancelled jobs again. A job with no attempts left gets one more
    /// (as Oban's retry does); its finished stages stay recorded, so it resumes, not restarts.
    static let retrySQL = """
        UPDATE jobs SET state = 'queued', run_at = ?, updated_at = ?, finished_at = NULL, cancel_requested = 0,
               max_attempts = max(max_attempts, attempt + 1)
        """

    public func retry(jobID: Int64) async throws -> Job {
        let now = self.now()
        return try await database.write { db in
            guard let row = try db.queryOne("SELECT state FROM jobs WHERE id = ?", [jobID]) else {
                throw JobStoreError.notFound(jobID)
            }
            let state = JobState(rawValue: row.string("state") ?? "") ?? .queued
            guard state == .failed || state == .cancelled else {
                throw JobStoreError.invalidState(jobID: jobID, state: state, action: "retry: only failed or cancelled jobs are retried")
            }
            guard let updated = try db.queryOne("\(Self.retrySQL) WHERE id = ? RETURNING \(Self.columns)", [now, now, jobID]) else {
                throw JobStoreError.notFound(jobID)
            }
            return Self.job(updated)
        }
    }

    public func retryAllFailed(channel: String?) async throws -> [Int64] {
        let now = self.now()
        return try await database.write { db in
            let rows = try db.query(
                "\(Self.retrySQL) WHERE state = 'failed' AND (?3 IS NULL OR channel = ?3) RETURNING id",
                [now, now, channel])
            return rows.compactMap { $0.int("id") }.sorted()
        }
    }

    public func listFailed(channel: String?, since: Date?, limit: Int) async throws -> [Job] {
        // Two statements rather than `(? IS NULL OR channel = ?)`, so each uses its own index.
        let rows: [Row] = try await database.read { db in
            if let channel {
                return try db.query("""
                    SELECT \(Self.columns) FROM jobs
                     WHERE channel = ? AND state = 'failed' AND finished_at >= ?
                     ORDER BY finished_at DESC LIMIT ?
                    """, [channel, since ?? Date(timeIntervalSince1970: 0), limit])
            }
            return try db.query("""
                SELECT \(Self.columns) FROM jobs
                 WHERE state = 'failed' AND finished_at >= ?
                 ORDER BY finished_at DESC LIMIT ?
                """, [since ?? Date(timeIntervalSince1970: 0), limit])
        }
        return rows.map(Self.job)
    }

    public func history(channel: String?, limit: Int) async throws -> [AttemptRecord] {
        let rows: [Row] = try await database.read { db in
            if let channel {
                return try db.query(
                    "SELECT * FROM job_attempts WHERE channel = ? ORDER BY started_at DESC LIMIT ?", [channel, limit])
            }
            return try db.query("SELECT * FROM job_attempts ORDER BY started_at DESC LIMIT ?", [limit])
        }
        return rows.map(Self.attempt)
    }

    public func job(id: Int64) async throws -> Job? {
        try await database.read { db in
            try db.queryOne("SELECT \(Self.columns) FROM jobs WHERE id = ?", [id]).map(Self.job)
        }
    }

    public func stages(jobID: Int64) async throws -> [StageRecord] {
        let rows = try await database.read { db in
            try db.query("SELECT * FROM job_stages WHERE job_id = ? ORDER BY started_at, stage", [jobID])
        }
        return rows.map { row in
            let artifacts = (row.string("artifacts")?.data(using: .utf8))
                .flatMap { try? JSONDecoder().decode([Artifact].self, from: $0) } ?? []
            return StageRecord(
                jobID: row.int("job_id") ?? 0, stage: row.string("stage") ?? "",
                state: StageState(rawValue: row.string("state") ?? "") ?? .running,
                attempt: Int(row.int("attempt") ?? 0), artifacts: artifacts,
                startedAt: row.date("started_at") ?? Date(timeIntervalSince1970: 0),
                finishedAt: row.date("finished_at"), durationMS: row.int("duration_ms"),
                errorCode: row.string("error_code"), errorMessage: row.string("error_message"),
                notes: (row.string("notes")?.data(using: .utf8)).flatMap { try? JSONDecoder().decode([String: String].self, from: $0) } ?? [:])
        }
    }

    public func attempts(jobID: Int64) async throws -> [AttemptRecord] {
        try await database.read { db in
            try db.query("SELECT * FROM job_attempts WHERE job_id = ? ORDER BY attempt, id", [jobID]).map(Self.attempt)
        }
    }

    public func stats() async throws -> QueueStats {
        let now = self.now()
        return try await database.read { db in
            var counts: [String: [JobState: Int]] = [:]
            for row in try db.query("SELECT channel, state, count(*) AS n FROM jobs GROUP BY channel, state") {
                guard let channel = row.string("channel"), let state = JobState(rawValue: row.string("state") ?? "") else { continue }
                counts[channel, default: [:]][state] = Int(row.int("n") ?? 0)
            }
            let oldest = try db.queryOne(
                "SELECT min(run_at) AS t FROM jobs WHERE state = 'queued' AND run_at <= ?", [now])?.date("t")
            return QueueStats(counts: counts, oldestDueQueuedAt: oldest)
        }
    }

    public func prune(finishedBefore cutoff: Date, batchSize: Int = 500) async throws -> Int {
        guard batchSize > 0 else { throw JobStoreError.invalidArgument("prune batch size must be positive") }
        var total = 0
        while true {
            let deleted = try await database.write { db in
                try db.run("""
                    DELETE FROM jobs WHERE id IN (
                        SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < ? LIMIT ?)
                    """, [cutoff, batchSize])
            }
            total += deleted
            if deleted < batchSize { return total }
        }
    }
}

extension SQLiteJobStore {
    /// Running jobs, oldest lease first.
    public func runningJobs() async throws -> [Job] {
        try await database.read { db in
            try db.query("SELECT \(Self.columns) FROM jobs WHERE state = 'running' ORDER BY updated_at").map(Self.job)
        }
    }

    /// The highest applied migration version.
    public func schemaVersion() async throws -> Int {
        try await database.read { db in Int(try db.queryOne("SELECT max(version) AS v FROM schema_migrations")?.int("v") ?? 0) }
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
                if let id = row.int("job_id"), let d = row.date("started_at") { out[id] = d }
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

    /// The earliest `run_at` of a queued job (of the given channels), due or not.
    public func nextRunAt(channels: [String]?) async throws -> Date? {
        let rows: [Row] = try await database.read { db in
            if let channels {
                return try channels.compactMap {
                    try db.queryOne("SELECT run_at FROM jobs WHERE state = 'queued' AND channel = ? ORDER BY run_at LIMIT 1", [$0])
                }
            }
            return try db.query("SELECT min(run_at) AS run_at FROM jobs WHERE state = 'queued'")
        }
        return rows.compactMap { $0.date("run_at") }.min()
    }
}
