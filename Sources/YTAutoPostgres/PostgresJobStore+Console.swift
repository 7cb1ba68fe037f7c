import Foundation
import PostgresNIO
import YTAutoCore

/// What the web console reads and records (``ConsoleStore``) on PostgreSQL.
extension PostgresJobStore: ConsoleStore {
    /// Newest first by id, read backwards along the primary key from the page's start until
    /// `limit` jobs match: an unfiltered page costs the same on a million jobs as on a hundred.
    public func jobs(matching query: JobQuery, limit: Int) async throws -> [Job] {
        var q: PostgresQuery = "SELECT * FROM jobs WHERE true"
        func add(_ condition: String, _ value: some PostgresEncodable & Sendable) throws {
            try q.binds.append(value)
            q.sql += " AND " + condition.replacingOccurrences(of: "$?", with: "$\(q.binds.count)")
        }
        if let state = query.state { try add("state = $?", state.rawValue) }
        if let channel = query.channel { try add("channel = $?", channel) }
        if let code = query.errorCode { try add("last_error_code = $?", code) }
        if let pattern = query.topicPattern { try add("lower(topic) LIKE $? ESCAPE '\\'", pattern) }
        if let before = query.beforeID { try add("id < $?", before) }
        try q.binds.append(Int64(limit))
        q.sql += " ORDER BY id DESC LIMIT $\(q.binds.count)"
        return try await pool.query(q).map(Self.job)
    }

    public func finishedByHour(since: Date) async throws -> [HourlyCount] {
        try await pool.query("""
            SELECT date_trunc('hour', finished_at) AS hour, state, count(*) AS n
              FROM jobs WHERE finished_at IS NOT NULL AND finished_at >= \(since)
             GROUP BY 1, 2 ORDER BY 1, 2
            """).map { r in
            let text = try r.required("state", r.string)
            guard let state = JobState(rawValue: text) else { throw r.corrupt("state", found: "'\(text)'", expected: "a job state") }
            return HourlyCount(hour: try r.required("hour", r.date), state: state, count: Int(try r.required("n", r.int)))
        }
    }

    public func failuresByCode(since: Date) async throws -> [CodeCount] {
        try await pool.query("""
            SELECT coalesce(last_error_code, '(none)') AS code, count(*) AS n
              FROM jobs WHERE state = 'failed' AND finished_at >= \(since)
             GROUP BY 1 ORDER BY n DESC, code
            """).map { r in CodeCount(code: try r.required("code", r.string), count: Int(try r.required("n", r.int))) }
    }

    public func stageDurations(since: Date, limit: Int) async throws -> [StageDuration] {
        try await pool.query("""
            SELECT stage, state, duration_ms FROM job_stage_runs
             WHERE started_at >= \(since) AND duration_ms IS NOT NULL ORDER BY started_at DESC LIMIT \(Int64(limit))
            """).map { r in
            let text = try r.required("state", r.string)
            guard let state = StageState(rawValue: text) else { throw r.corrupt("state", found: "'\(text)'", expected: "a stage state") }
            return StageDuration(stage: try r.required("stage", r.string), state: state, durationMS: try r.required("duration_ms", r.int))
        }
    }

    public func leaseWaits(since: Date, limit: Int) async throws -> [Duration] {
        try await pool.query("""
            SELECT started_at, due_at FROM job_attempts
             WHERE started_at >= \(since) AND due_at IS NOT NULL ORDER BY started_at DESC LIMIT \(Int64(limit))
            """).map { r in
            .milliseconds(Int64((try r.required("started_at", r.date).timeIntervalSince(try r.required("due_at", r.date)) * 1000).rounded()))
        }
    }

    @discardableResult
    public func recordAudit(actor: String, action: String, target: String, detail: String?) async throws -> AuditEntry {
        guard let r = try await pool.queryOne("""
            INSERT INTO audit_log (at, actor, action, target, detail)
            VALUES (coalesce(\(nowBind)::timestamptz, date_trunc('milliseconds', now())), \(actor), \(action), \(target), \(detail))
            RETURNING *
            """) else { throw PostgresStoreError("the audit log's insert returned nothing") }
        return try Self.audit(r)
    }

    public func auditLog(limit: Int) async throws -> [AuditEntry] {
        try await pool.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT \(Int64(limit))").map(Self.audit)
    }

    static func audit(_ r: PGRow) throws -> AuditEntry {
        AuditEntry(id: try r.required("id", r.int), at: try r.required("at", r.date), actor: try r.required("actor", r.string),
                   action: try r.required("action", r.string), target: try r.required("target", r.string), detail: try r.string("detail"))
    }
}
