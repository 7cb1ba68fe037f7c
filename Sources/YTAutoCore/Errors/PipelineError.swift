import Foundation

/// A stage of the pipeline failed. Keeps the stage and the underlying error, and takes
/// its code and retry hints from that error, so the policy sees through the wrapper.
public struct PipelineError: YTAutoError {
    public let stage: String
    public let underlying: JobFailure

    public init(stage: String, underlying: any Error) {
        self.stage = stage
        self.underlying = JobFailure(underlying)
    }

    public var code: String { underlying.code }
    public var message: String { "stage \(stage): \(underlying.message)" }
    public var isRetryable: Bool { underlying.isRetryable }
    public var retryAt: Date? { underlying.retryAt }
    public var spendsAttempt: Bool { underlying.spendsAttempt }
}
