import Foundation

/// Every error the system raises on purpose conforms to this protocol.
///
/// The retry policy reads ``isRetryable``, ``retryAt`` and ``spendsAttempt``; it never
/// parses ``message``. ``code`` is stable (for example `youtube.quota_exceeded`) and is
/// stored in `jobs.last_error_code` and `job_attempts.error_code`, so it can be queried.
/// ``message`` must never contain a secret: adapters build it from status codes and the
/// provider's error body, never from request headers.
///
/// The seed's exception hierarchy (LLM, TTS, YouTube API, …) is the first half of ``code``
/// (`llm.rate_limited`, `tts.quota_exceeded`), not a protocol a family conforms to: nothing
/// catches a whole family, since what to do about an error is read from the error itself.
public protocol YTAutoError: Error, Sendable, CustomStringConvertible {
    /// A stable, dotted, lower-case identifier: `family.reason`.
    var code: String { get }
    /// What went wrong, for an operator.
    var message: String { get }
    /// Whether trying again may succeed.
    var isRetryable: Bool { get }
    /// When to try again, if the error knows (Retry-After, a quota reset).
    var retryAt: Date? { get }
    /// `false` for errors that say nothing about the job itself (a quota that resets at
    /// midnight): the job is parked until ``retryAt`` without using one of its attempts.
    var spendsAttempt: Bool { get }
}

extension YTAutoError {
    public var retryAt: Date? { nil }
    public var spendsAttempt: Bool { true }
    public var description: String { "\(code): \(message)" }
}

/// The system's view of any error, as stored with a job: what the retry policy reads.
public struct JobFailure: Sendable, Hashable, Error, CustomStringConvertible {
    public var code: String
    public var message: String
    public var isRetryable: Bool
    public var retryAt: Date?
    public var spendsAttempt: Bool

    /// A stage found its job's work folder held, for longer than any stage may run, by an earlier
    /// run of the job that was stopped and whose work never returned (YTAutoMedia's
    /// `WorkFolderStuckError`). The worker running that work queues the job again when it returns.
    public static let workStuckCode = "work.stuck"

    public init(code: String, message: String, isRetryable: Bool, retryAt: Date? = nil, spendsAttempt: Bool = true) {
        self.code = code
        self.message = message
        self.isRetryable = isRetryable
        self.retryAt = retryAt
        self.spendsAttempt = spendsAttempt
    }

    /// Describes any error. A ``YTAutoError`` keeps its own code and retry hints; an
    /// unknown error is `internal.unexpected` and retryable, since nothing says it is permanent.
    public init(_ error: any Error) {
        if let e = error as? any YTAutoError {
            self.init(code: e.code, message: e.message, isRetryable: e.isRetryable,
                      retryAt: e.retryAt, spendsAttempt: e.spendsAttempt)
        } else if let f = error as? JobFailure {
            self = f
        } else {
            self.init(code: "internal.unexpected", message: String(describing: error), isRetryable: true)
        }
    }

    public var description: String { "\(code): \(message)" }
}
