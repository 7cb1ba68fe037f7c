import Foundation

/// The daily YouTube quota (or upload limit) is used up. The job is parked until the
/// reset, the next midnight in America/Los_Angeles, without spending an attempt.
public struct YouTubeQuotaExceededError: YTAutoError {
    public let message: String
    public let retryAt: Date?
    public init(message: String, retryAt: Date?) {
        self.message = message
        self.retryAt = retryAt
    }
    public var code: String { "youtube.quota_exceeded" }
    public var isRetryable: Bool { true }
    public var spendsAttempt: Bool { false }

    /// The next midnight in America/Los_Angeles after `now`, when YouTube resets quotas.
    public static func nextQuotaReset(after now: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "America/Los_Angeles") ?? TimeZone(secondsFromGMT: -8 * 3600)!
        let startOfDay = calendar.startOfDay(for: now)
        return calendar.date(byAdding: .day, value: 1, to: startOfDay) ?? now.addingTimeInterval(86_400)
    }
}

/// YouTube refused our credentials, permanently until the operator acts: the grant is revoked
/// or expired (`invalid_grant`, a 401 after a fresh refresh), or the OAuth client is wrong
/// (`invalid_client`). The remedy is part of ``message``, not only of ``description``, because
/// the message is what reaches the job's error, its attempts, the worker log and `run-once`.
public struct YouTubeAuthError: YTAutoError {
    public enum Remedy: Sendable, Hashable {
        /// The grant is gone: `ytauto auth youtube` makes a new one.
        case reauthorise
        /// Google does not know the client id or secret: authorising again cannot help.
        case checkClient
        /// The detail already says what to do (a missing credential, a token file's mode).
        case none
    }

    /// What went wrong, without the remedy.
    public let detail: String
    public let remedy: Remedy

    public init(message: String, remedy: Remedy = .reauthorise) {
        self.detail = message
        self.remedy = remedy
    }

    public var message: String {
        switch remedy {
        case .reauthorise: "\(detail); run `ytauto auth youtube` to authorise again"
        case .checkClient:
            "\(detail); the OAuth client id or secret is wrong: check YOUTUBE_CLIENT_ID and YOUTUBE_CLIENT_SECRET "
                + "against the Desktop-app client in Google Cloud (authorising again will not help until they are right)"
        case .none: detail
        }
    }
    public var code: String { "youtube.auth" }
    public var isRetryable: Bool { false }
}

/// A short-term YouTube limit (`rateLimitExceeded`, `userRateLimitExceeded`, HTTP 429). Unlike
/// the daily quota it passes in seconds or minutes: the uploader retries with backoff, and if it
/// persists the attempt fails retryably, so the job waits its ordinary backoff instead of being
/// parked until midnight in Los Angeles.
public struct YouTubeRateLimitError: YTAutoError {
    public let message: String
    public let retryAt: Date?
    public init(message: String, retryAt: Date? = nil) {
        self.message = message
        self.retryAt = retryAt
    }
    public var code: String { "youtube.rate_limited" }
    public var isRetryable: Bool { true }
}

/// An upload failed in a way that may pass on a retry (a dropped session, a 5xx).
public struct YouTubeUploadError: YTAutoError {
    public let message: String
    public let isRetryable: Bool
    public init(message: String, isRetryable: Bool) {
        self.message = message
        self.isRetryable = isRetryable
    }
    public var code: String { "youtube.upload_failed" }
}
