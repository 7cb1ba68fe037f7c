import Foundation

// The seed's exception hierarchy as protocol families: `catch let e as any LLMError`
// catches the whole family, and each leaf is a Sendable struct with a stable code.

/// Script generation by a language model.
public protocol LLMError: YTAutoError {}
/// Narration synthesis.
public protocol TTSError: YTAutoError {}
/// Scene image generation.
public protocol ImageGenerationError: YTAutoError {}
/// Turning stills into motion clips.
public protocol VideoGenerationError: YTAutoError {}
/// Composing the final video, and its QA gate.
public protocol VideoCompositionError: YTAutoError {}
/// Making the music bed.
public protocol MusicGenerationError: YTAutoError {}
/// The YouTube Data API.
public protocol YouTubeAPIError: YTAutoError {}
/// Making the thumbnail.
public protocol ThumbnailError: YTAutoError {}

/// A provider error that is not one of the specific cases below (a 5xx, a timeout, a bad
/// body), usable by any family through ``ProviderError/Family``.
public struct ProviderError: LLMError, TTSError, ImageGenerationError, VideoGenerationError,
    MusicGenerationError, YouTubeAPIError, ThumbnailError
{
    public enum Family: String, Sendable {
        case llm, tts, image, video, music, youtube, thumbnail
    }

    public let family: Family
    public let reason: String
    public let message: String
    public let isRetryable: Bool
    public let retryAt: Date?

    /// - Parameters:
    ///   - reason: the stable second half of the code, such as `server_error` or `timeout`.
    public init(family: Family, reason: String, message: String, isRetryable: Bool, retryAt: Date? = nil) {
        self.family = family
        self.reason = reason
        self.message = message
        self.isRetryable = isRetryable
        self.retryAt = retryAt
    }

    public var code: String { "\(family.rawValue).\(reason)" }
}

/// HTTP 429 or the provider's rate-limit body. Retried, at Retry-After when given.
public struct LLMRateLimitError: LLMError {
    public let message: String
    public let retryAt: Date?
    public init(message: String, retryAt: Date? = nil) {
        self.message = message
        self.retryAt = retryAt
    }
    public var code: String { "llm.rate_limited" }
    public var isRetryable: Bool { true }
}

/// The model refused, or a content filter stopped the answer. Asking again will not help.
public struct LLMContentFilterError: LLMError {
    public let message: String
    public init(message: String) { self.message = message }
    public var code: String { "llm.content_filtered" }
    public var isRetryable: Bool { false }
}

/// A TTS quota or character limit was reached. Retried after the reset when known.
public struct TTSQuotaExceededError: TTSError {
    public let message: String
    public let retryAt: Date?
    public init(message: String, retryAt: Date? = nil) {
        self.message = message
        self.retryAt = retryAt
    }
    public var code: String { "tts.quota_exceeded" }
    public var isRetryable: Bool { true }
}

/// A child process (ffmpeg, ffprobe, espeak-ng) failed. Carries the command and the tail of stderr.
///
/// A run that failed because its disk is full (`No space left on device` in stderr) is
/// `media.disk_full` and retryable: the job waits its backoff and tries again, reusing what it
/// finished, once space has been freed.
public struct FFmpegError: VideoCompositionError {
    public let command: [String]
    public let exitStatus: Int32?
    public let stderrTail: String
    private let retryable: Bool

    public init(command: [String], exitStatus: Int32?, stderrTail: String, isRetryable: Bool = false) {
        self.command = command
        self.exitStatus = exitStatus
        self.stderrTail = stderrTail
        self.retryable = isRetryable
    }

    /// Whether the program could not write because its disk is full.
    public var isDiskFull: Bool { stderrTail.contains("No space left on device") }
    public var isRetryable: Bool { retryable || isDiskFull }
    public var code: String { isDiskFull ? "media.disk_full" : "ffmpeg.failed" }
    public var message: String {
        let tool = command.first ?? "ffmpeg"
        let status = exitStatus.map { "exit status \($0)" } ?? "killed"
        // ffmpeg's output is its last argument.
        let full = isDiskFull ? "the disk is full: \(tool) could not write \(command.last ?? "its output"); free space and the job is retried. " : ""
        return "\(full)\(tool) failed (\(status)): \(stderrTail)\ncommand: \(command.joined(separator: " "))"
    }
}

/// The daily YouTube quota (or upload limit) is used up. The job is parked until the
/// reset, the next midnight in America/Los_Angeles, without spending an attempt.
public struct YouTubeQuotaExceededError: YouTubeAPIError {
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
public struct YouTubeAuthError: YouTubeAPIError {
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
public struct YouTubeRateLimitError: YouTubeAPIError {
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
public struct YouTubeUploadError: YouTubeAPIError {
    public let message: String
    public let isRetryable: Bool
    public init(message: String, isRetryable: Bool) {
        self.message = message
        self.isRetryable = isRetryable
    }
    public var code: String { "youtube.upload_failed" }
}

/// A script failed validation. Carries every issue found, not only the first.
public struct ScriptValidationError: YTAutoError {
    public let issues: [String]
    public init(issues: [String]) { self.issues = issues }
    public var code: String { "script.invalid" }
    public var message: String { "script failed validation: " + issues.joined(separator: "; ") }
    public var isRetryable: Bool { false }
}

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
