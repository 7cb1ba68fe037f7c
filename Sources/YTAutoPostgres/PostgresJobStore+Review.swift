import Foundation
import PostgresNIO
import YTAutoCore

/// Review before publish (``ReviewRecord``), on PostgreSQL: the job's state `review` and its row
/// of `job_reviews`.
extension PostgresJobStore {
    public func holdForReview(_ lease: Lease, stage: String, remade: Bool) async throws -> ReviewHold {
        try await pool.transaction { tx in
            let job = try await Self.requireLease(tx, lease)
            if !remade, try await Self.review(tx.queryOne, jobID: job.id)?.decision == .approved { return .approved }
            let now = try await self.now(tx)
            if job.cancelRequested {
                try await Self.finishAttempt(tx, lease, outcome: .cancelled, stage: stage, error: nil, now: now)
                return .held(try await Self.finish(tx, jobID: job.id, state: .cancelled, error: nil, now: now))
            }
            try await tx.run("""
                INSERT INTO job_reviews (job_id, requested_at) VALUES (\(job.id), \(now))
                ON CONFLICT (job_id) DO UPDATE SET requested_at = EXCLUDED.requested_at, decision = NULL, decided_at = NULL,
                                                   decided_by = NULL, reason = NULL
                """)
            try await Self.finishAttempt(tx, lease, outcome: .review, stage: stage,
                                         error: JobFailure(code: ReviewRules.heldCode, message: "stopped before \(stage) to wait for review", isRetryable: true),
                                         now: now)
            guard let row = try await tx.queryOne("""
                UPDATE jobs SET state = 'review', lease_owner = NULL, lease_expires_at = NULL, updated_at = \(now), attempt = attempt - 1
                 WHERE id = \(job.id) RETURNING *
                """) else { throw JobStoreError.notFound(job.id) }
            return .held(try Self.job(row))
        }
    }

    public func approve(jobID: Int64, by actor: String) async throws -> Job {
        signalIfQueued(try await pool.transaction { tx in
            try await Self.requireReviewable(tx, jobID: jobID, action: .approved)
            let now = try await self.now(tx)
            try await tx.run("UPDATE job_reviews SET decision = 'approved', decided_at = \(now), decided_by = \(actor) WHERE job_id = \(jobID)")
            return try await self.requeue(tx, jobID: jobID)
        })
    }

    public func reject(jobID: Int64, reason: String, by actor: String) async throws -> Job {
        let reason = try ReviewRules.checkedReason(reason)
        return try await pool.transaction { tx in
            try await Self.requireReviewable(tx, jobID: jobID, action: .rejected)
            let now = try await self.now(tx)
            try await tx.run("""
                UPDATE job_reviews SET decision = 'rejected', decided_at = \(now), decided_by = \(actor), reason = \(reason) WHERE job_id = \(jobID)
                """)
            return try await Self.finish(tx, jobID: jobID, state: .cancelled, error: ReviewRules.rejection(reason: reason, by: actor), now: now)
        }
    }

    public func review(jobID: Int64) async throws -> ReviewRecord? {
        try await Self.review(pool.queryOne, jobID: jobID)
    }

    public func waitingForReview(limit: Int) async throws -> [Job] {
        try await pool.query("SELECT * FROM jobs WHERE state = 'review' ORDER BY updated_at, id LIMIT \(limit)").map(Self.job)
    }

    /// Throws unless job `jobID` waits for review, with a review row to decide; the job's row is locked.
    static func requireReviewable(_ tx: PGTransaction, jobID: Int64, action: ReviewRecord.Decision) async throws {
        let state = try await lockedState(tx, jobID: jobID)
        if let refusal = ReviewRules.decisionRefusal(jobID: jobID, state: state, action: action) { throw refusal }
        guard try await review(tx.queryOne, jobID: jobID) != nil else {
            throw JobStoreError.invalidArgument("job \(jobID) is in review but has no review record; cancel or redo it")
        }
    }

    static func review(_ queryOne: (PostgresQuery) async throws -> PGRow?, jobID: Int64) async throws -> ReviewRecord? {
        try await queryOne("""
            SELECT job_id, requested_at, decision, decided_at, decided_by, reason FROM job_reviews WHERE job_id = \(jobID)
            """).map(Self.reviewRecord)
    }

    static func reviewRecord(_ row: PGRow) throws -> ReviewRecord {
        let r = row.named(table: "job_reviews", row: "the review of job \((try? row.int("job_id")).flatMap { $0.map(String.init) } ?? "?")")
        return ReviewRecord(
            jobID: try r.required("job_id", r.int), requestedAt: try r.required("requested_at", r.date),
            decision: try r.optionalValue("decision", ReviewRecord.Decision.self, expected: "approved or rejected"),
            decidedAt: try r.date("decided_at"), decidedBy: try r.string("decided_by"), reason: try r.string("reason"))
    }
}
