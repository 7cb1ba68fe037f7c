import Foundation
import YTAutoCore

/// Review before publish (``ReviewRecord``), on SQLite: the job's state `review` and its row of
/// `job_reviews`.
extension SQLiteJobStore {
    public func holdForReview(_ lease: Lease, stage: String, remade: Bool) async throws -> ReviewHold {
        let now = self.now()
        return try await database.write { db in
            let job = try Self.requireLease(db, lease)
            if !remade, try Self.review(db, jobID: job.id)?.decision == .approved { return .approved }
            if job.cancelRequested {
                try Self.finishAttempt(db, lease, outcome: .cancelled, stage: stage, error: nil, now: now)
                return .held(try Self.finish(db, jobID: job.id, state: .cancelled, error: nil, now: now))
            }
            try db.run("""
                INSERT INTO job_reviews (job_id, requested_at) VALUES (?1, ?2)
                ON CONFLICT (job_id) DO UPDATE SET requested_at = ?2, decision = NULL, decided_at = NULL, decided_by = NULL, reason = NULL
                """, [job.id, now])
            try Self.finishAttempt(db, lease, outcome: .review, stage: stage,
                                   error: JobFailure(code: ReviewRules.heldCode, message: "stopped before \(stage) to wait for review", isRetryable: true),
                                   now: now)
            guard let row = try db.queryOne("""
                UPDATE jobs SET state = 'review', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1,
                       attempt = attempt - 1
                 WHERE id = ?2 RETURNING \(SQL.columns)
                """, [now, job.id]) else { throw JobStoreError.notFound(job.id) }
            return .held(try Self.job(row))
        }
    }

    public func approve(jobID: Int64, by actor: String) async throws -> Job {
        let now = self.now()
        return signalIfQueued(try await database.write { db in
            try Self.requireReviewable(db, jobID: jobID, action: .approved)
            try db.run("UPDATE job_reviews SET decision = 'approved', decided_at = ?, decided_by = ? WHERE job_id = ?", [now, actor, jobID])
            guard let row = try db.queryOne(SQL.retryJob, [now, jobID]) else { throw JobStoreError.notFound(jobID) }
            return try Self.job(row)
        })
    }

    public func reject(jobID: Int64, reason: String, by actor: String) async throws -> Job {
        let reason = try ReviewRules.checkedReason(reason)
        let now = self.now()
        return try await database.write { db in
            try Self.requireReviewable(db, jobID: jobID, action: .rejected)
            try db.run("UPDATE job_reviews SET decision = 'rejected', decided_at = ?, decided_by = ?, reason = ? WHERE job_id = ?",
                       [now, actor, reason, jobID])
            return try Self.finish(db, jobID: jobID, state: .cancelled, error: ReviewRules.rejection(reason: reason, by: actor), now: now)
        }
    }

    public func review(jobID: Int64) async throws -> ReviewRecord? {
        try await database.read { db in try Self.review(db, jobID: jobID) }
    }

    public func waitingForReview(limit: Int) async throws -> [Job] {
        try await database.read { db in
            try db.query("SELECT \(SQL.columns) FROM jobs INDEXED BY jobs_review WHERE state = 'review' ORDER BY updated_at, id LIMIT ?", [limit])
                .map(Self.job)
        }
    }

    /// Throws unless job `jobID` waits for review, with a review row to decide.
    static func requireReviewable(_ db: Connection, jobID: Int64, action: ReviewRecord.Decision) throws {
        guard let row = try db.queryOne(SQL.jobByID, [jobID]) else { throw JobStoreError.notFound(jobID) }
        if let refusal = ReviewRules.decisionRefusal(jobID: jobID, state: try Self.job(row).state, action: action) { throw refusal }
        guard try review(db, jobID: jobID) != nil else {
            throw JobStoreError.invalidArgument("job \(jobID) is in review but has no review record; cancel or redo it")
        }
    }

    static func review(_ db: Connection, jobID: Int64) throws -> ReviewRecord? {
        try db.queryOne("SELECT job_id, requested_at, decision, decided_at, decided_by, reason FROM job_reviews WHERE job_id = ?", [jobID])
            .map(Self.reviewRecord)
    }

    static func reviewRecord(_ row: Row) throws -> ReviewRecord {
        let r = StoredRow(row, table: "job_reviews", key: "job_id", as: "job review")
        return ReviewRecord(
            jobID: try r.int("job_id"), requestedAt: try r.date("requested_at"),
            decision: try r.optionalValue("decision", ReviewRecord.Decision.self, expected: "approved or rejected"), decidedAt: try r.optionalDate("decided_at"),
            decidedBy: try r.optionalString("decided_by"), reason: try r.optionalString("reason"))
    }
}
