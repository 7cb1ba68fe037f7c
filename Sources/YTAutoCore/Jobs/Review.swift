import Foundation

/// A job's review, for channels with `review: true` (`job_reviews`): when it stopped before
/// publishing, and what an operator decided.
public struct ReviewRecord: Sendable, Hashable, Codable {
    public enum Decision: String, Sendable, Hashable, Codable, CaseIterable {
        case approved, rejected
    }

    public var jobID: Int64
    /// When the job last stopped to wait for review.
    public var requestedAt: Date
    public var decision: Decision?
    public var decidedAt: Date?
    /// Who decided (`cli:<user>`, `web (loopback)`).
    public var decidedBy: String?
    /// Why it was rejected.
    public var reason: String?

    public init(jobID: Int64, requestedAt: Date, decision: Decision?, decidedAt: Date?, decidedBy: String?, reason: String?) {
        self.jobID = jobID
        self.requestedAt = requestedAt
        self.decision = decision
        self.decidedAt = decidedAt
        self.decidedBy = decidedBy
        self.reason = reason
    }
}

/// What ``WorkerStore/holdForReview(_:stage:)`` did.
public enum ReviewHold: Sendable, Hashable {
    /// An operator approved the job: the worker goes on and publishes.
    case approved
    /// The lease is over: the job now waits in state `review`, held by no worker (or, when a
    /// cancel was requested, it ended `cancelled` instead).
    case held(Job)
}

/// The review rules, shared by both engines.
public enum ReviewRules {
    /// What a rejected job records as its last error.
    public static let rejectedCode = "review.rejected"
    /// What the attempt that stopped for review records (not an error: the job waits).
    public static let heldCode = "review.waiting"

    /// Why job `id` in `state` cannot be approved or rejected, or nil if it can: only a job
    /// waiting for review is decided.
    public static func decisionRefusal(jobID id: Int64, state: JobState, action: ReviewRecord.Decision) -> JobStoreError? {
        guard state != .review else { return nil }
        let verb = action == .approved ? "approve" : "reject"
        return .invalidState(jobID: id, state: state, action: "\(verb) it: only a job waiting for review (state review) is approved or rejected")
    }

    /// A rejection's reason, checked: not empty, at most 1,000 characters.
    public static func checkedReason(_ reason: String) throws(JobStoreError) -> String {
        let r = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !r.isEmpty else { throw .invalidArgument("a rejection needs a reason (what is wrong with the video)") }
        guard r.count <= 1000 else { throw .invalidArgument("the rejection's reason is \(r.count) characters; at most 1000") }
        // Lines and tabs are text; a terminal's escape or a reversed direction is not (it is shown in terminals and the console).
        if let hidden = TextControls.firstInPlainText(r) {
            throw .invalidArgument("the rejection's reason has \(TextControls.describe(hidden)); write it as plain text")
        }
        return r
    }

    /// The failure a rejection records on the job.
    public static func rejection(reason: String, by actor: String) -> JobFailure {
        JobFailure(code: rejectedCode, message: "rejected in review by \(actor): \(reason)", isRetryable: false)
    }
}
