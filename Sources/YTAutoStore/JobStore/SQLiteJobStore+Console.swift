import Foundation
import YTAutoCore

/// What the web console reads and records (``ConsoleStore``) on SQLite.
extension SQLiteJobStore: ConsoleStore {
    public var changeSequence: UInt64 { UInt64(database.changeSequence) }
    public var changesIncludeJobEnds: Bool { true }

    /// Blocks a thread of its own (`<db>#changes`), never a cooperative one; one console process
    /// has one watcher (``ChangeFeed``), so waits do not queue behind each other.
    public func waitForChange(seen: UInt64, timeout: Duration) async {
        let database = self.database
        let thread = DatabaseThread.forDatabase(at: database.path + "#changes")
        await withTaskExecutorPreference(thread) { database.waitForChange(seen: UInt32(truncatingIfNeeded: seen), timeout: timeout) }
    }

    /// Newest first by id: the scan walks the table backwards from the page's start and stops at
    /// `limit` matches, so an unfiltered page (and any filter that matches recent jobs) costs the
    /// same on a million jobs as on a hundred. The state is not matched through an index (`+state`):
    /// an index on state would have to sort its matches by id first.
    public func jobs(matching query: JobQuery, limit: Int) async throws -> [Job] {
        var conditions: [String] = []
        var values: [any SQLBindable] = []
        if let state = query.state { conditions.append("+state = ?"); values.append(state.rawValue) }
        if let channel = query.channel { conditions.append("+channel = ?"); values.append(channel) }
        if let code = query.errorCode { conditions.append("last_error_code = ?"); values.append(code) }
        if let pattern = query.topicPattern { conditions.append("lower(topic) LIKE ? ESCAPE '\\'"); values.append(pattern) }
        if let before = query.beforeID { conditions.append("id < ?"); values.append(before) }
        values.append(limit)
        let sql = "SELECT \(Self.columns) FROM jobs"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY id DESC LIMIT ?"
        let bound = values
        let rows = try await database.read { db in try db.query(sql, bound) }
        return try rows.map(Self.job)
    }

    public func finishedByHour(since: Date) async throws -> [HourlyCount] {
        try await database.read { db in
            try db.query("""
                SELECT substr(finished_at, 1, 13) || ':00:00.000Z' AS hour, state, count(*) AS n
                  FROM jobs INDEXED BY jobs_finished
                 WHERE finished_at IS NOT NULL AND finished_at >= ?
                 GROUP BY 1, 2 ORDER BY 1, 2
                """, [since]).map { row in
                let r = StoredRow(row, table: "jobs", name: "the finished jobs of an hour")
                return HourlyCount(hour: try r.date("hour"), state: try r.value("state", JobState.self, expected: "a job state"), count: try r.count("n"))
            }
        }
    }

    public func failuresByCode(since: Date) async throws -> [CodeCount] {
        try await database.read { db in
            try db.query("""
                SELECT coalesce(last_error_code, '(none)') AS code, count(*) AS n
                  FROM jobs INDEXED BY jobs_failed
                 WHERE state = 'failed' AND finished_at >= ?
                 GROUP BY 1 ORDER BY n DESC, code
                """, [since]).map { row in
                let r = StoredRow(row, table: "jobs", name: "the failures of one code")
                return CodeCount(code: try r.string("code"), count: try r.count("n"))
            }
        }
    }

    public func stageDurations(since: Date, limit: Int) async throws -> [StageDuration] {
        try await database.read { db in
            try db.query("""
                SELECT stage, state, duration_ms FROM job_stage_runs INDEXED BY job_stage_runs_started
                 WHERE started_at >= ? AND duration_ms IS NOT NULL ORDER BY started_at DESC LIMIT ?
                """, [since, limit]).map { row in
                let r = StoredRow(row, table: "job_stage_runs", name: "a run of \(row.string("stage") ?? "?")")
                return StageDuration(stage: try r.string("stage"), state: try r.value("state", StageState.self, expected: "a stage state"),
                                     durationMS: try r.int("duration_ms"))
            }
        }
    }

    public func leaseWaits(since: Date, limit: Int) async throws -> [Duration] {
        try await database.read { db in
            try db.query("""
                SELECT started_at, due_at FROM job_attempts INDEXED BY job_attempts_started
                 WHERE started_at >= ? AND due_at IS NOT NULL ORDER BY started_at DESC LIMIT ?
                """, [since, limit]).map { row in
                let r = StoredRow(row, table: "job_attempts", name: "an attempt's lease wait")
                return .milliseconds(Int64((try r.date("started_at").timeIntervalSince(try r.date("due_at")) * 1000).rounded()))
            }
        }
    }

    @discardableResult
    public func recordAudit(actor: String, action: String, target: String, detail: String?) async throws -> AuditEntry {
        let now = self.now()
        let id = try await database.write { db in
            try db.run("INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                       [now, actor, action, target, detail.map { $0 as any SQLBindable } ?? SQLValue.null])
            return db.lastInsertRowID
        }
        return AuditEntry(id: id, at: Timestamp.canonical(now), actor: actor, action: action, target: target, detail: detail)
    }

    public func auditLog(limit: Int) async throws -> [AuditEntry] {
        try await database.read { db in
            try db.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", [limit]).map { row in
                let r = StoredRow(row, table: "audit_log", name: "entry \(row.int("id") ?? 0)")
                return AuditEntry(id: try r.int("id"), at: try r.date("at"), actor: try r.string("actor"), action: try r.string("action"),
                                  target: try r.string("target"), detail: try r.optionalString("detail"))
            }
        }
    }
}
